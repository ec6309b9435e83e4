using Sling.Formats;

namespace Sling.Tokenization;

/// <summary>Builds the tokenizer a SentencePiece tokenizer.model describes.</summary>
public static class SentencePieceModelTokenizer
{
    public static ITokenizer Load(string path)
    {
        var model = SentencePieceModelFile.Read(path);
        if (model.ModelType != SentencePieceModelFile.Bpe)
            throw new ModelFormatException(path, $"SentencePiece model type {(model.ModelType == SentencePieceModelFile.Unigram ? "unigram" : model.ModelType.ToString())} is not supported (BPE is)");
        int Check(int id) => id >= 0 && id < model.Pieces.Length ? id : -1;
        var vocabulary = new Vocabulary(model.Pieces, model.Scores,
            model.Types.Select(t => Enum.IsDefined((TokenType)t) ? (TokenType)t : TokenType.Normal).ToArray())
        {
            UnknownId = Check(model.UnknownId),
            BosId = Check(model.BosId),
            EosId = Check(model.EosId),
        };
        return new SentencePieceBpeTokenizer(vocabulary)
        {
            AddSpacePrefix = model.AddDummyPrefix,
            RemoveExtraWhitespaces = model.RemoveExtraWhitespaces,
        };
    }
}

namespace Sling.Tokenization;

/// <summary>Token kinds, numbered as SentencePiece and GGUF number them.</summary>
public enum TokenType
{
    Normal = 1,
    Unknown = 2,
    /// <summary>Special tokens such as &lt;s&gt; or &lt;|endoftext|&gt;.</summary>
    Control = 3,
    /// <summary>Added tokens matched verbatim in text before the model splits it.</summary>
    UserDefined = 4,
    Unused = 5,
    /// <summary>&lt;0xNN&gt; byte-fallback tokens.</summary>
    Byte = 6,
}

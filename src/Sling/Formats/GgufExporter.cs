using Sling.Models.Architectures;
using System.Runtime.InteropServices;
using Sling.Models;

namespace Sling.Formats;

/// <summary>ggml tensor types <see cref="GgufExporter"/> writes.</summary>
public enum GgufExportType { F32, F16, Q8_0, Q4_0 }

/// <summary>
/// Writes a loaded Llama-family model (architecture "llama", q/k rows in llama.cpp's interleaved
/// rotary order) or Phi-2-family model (architecture "phi2", LayerNorm and projection biases) as a
/// GGUF file that llama.cpp loads, so both engines can run the same weights.
/// Matrices are encoded as llama.cpp's reference quantizers encode them; norms stay F32. The
/// vocabulary comes from a GGUF file holding one (e.g. a llama.cpp vocab file), or is a placeholder
/// of the right size, good for speed measurements only.
/// </summary>
public static class GgufExporter
{
    private const uint TypeF32 = 0, TypeF16 = 1, TypeQ4_0 = 2, TypeQ8_0 = 8;

    public static void Export(Transformer model, string path, GgufExportType type, string? vocabularyPath = null)
    {
        var c = model.Config;
        if (c.LinearRopeFactor != 1.0)
            throw new SlingException("export-gguf does not write linear rope scaling yet");
        // Phi-2's block (LayerNorm with biases, parallel attention and GELU MLP, partial rotary) is
        // llama.cpp's "phi2"; RMSNorm + SwiGLU without biases and with full rotary is its "llama".
        bool phi2 = c.Norm == NormKind.LayerNorm && c.Mlp == MlpKind.Gelu && c.ParallelResidual;
        bool llama = c.Norm == NormKind.RmsNorm && c.Mlp == MlpKind.GatedSilu && !c.ParallelResidual && c.RotaryDim == c.HeadDim
            && !model.Weights.Layers.Any(l => l.Linears().Any(x => x.Linear.Bias != null));
        if (!phi2 && !llama)
            throw new SlingException($"export-gguf writes Llama-family models (RMSNorm, SwiGLU, no biases, full rotary) and Phi-2-family ones (LayerNorm, GELU, parallel block); {c.Architecture} is neither");
        if (type is GgufExportType.Q8_0 or GgufExportType.Q4_0 && (c.Dim % 32 != 0 || c.HiddenDim % 32 != 0 || c.QDim % 32 != 0))
            throw new SlingException($"{type} needs row lengths that are multiples of 32 (hidden {c.Dim}, intermediate {c.HiddenDim})");

        string arch = phi2 ? "phi2" : "llama";
        using var writer = new GgufWriter(path);
        writer.Set("general.architecture", arch);
        writer.Set("general.name", c.Architecture);
        writer.Set("general.file_type", type switch { GgufExportType.F32 => 0u, GgufExportType.F16 => 1u, GgufExportType.Q4_0 => 2u, _ => 7u });
        writer.Set($"{arch}.context_length", (uint)c.MaxSeqLen);
        writer.Set($"{arch}.embedding_length", (uint)c.Dim);
        writer.Set($"{arch}.block_count", (uint)c.Layers);
        writer.Set($"{arch}.feed_forward_length", (uint)c.HiddenDim);
        writer.Set($"{arch}.attention.head_count", (uint)c.Heads);
        writer.Set($"{arch}.attention.head_count_kv", (uint)c.KvHeads);
        writer.Set(phi2 ? $"{arch}.attention.layer_norm_epsilon" : $"{arch}.attention.layer_norm_rms_epsilon", c.NormEps);
        writer.Set($"{arch}.rope.freq_base", (float)c.RopeTheta);
        writer.Set($"{arch}.rope.dimension_count", (uint)c.RotaryDim);
        SetVocabulary(writer, c.VocabSize, vocabularyPath);

        uint matrixType = type switch { GgufExportType.F32 => TypeF32, GgufExportType.F16 => TypeF16, GgufExportType.Q8_0 => TypeQ8_0, _ => TypeQ4_0 };
        var w = model.Weights;
        // llama.cpp's llama graph rotates interleaved pairs (its converter permutes q/k rows); phi2 rotates halves as Hugging Face does.
        bool permute = llama && c.Rope == RopeLayout.RotateHalf;
        var plan = new List<(string Name, Action<GgufWriter> Write)>();
        var n = phi2 ? TensorNames.Phi : TensorNames.Llama;
        void Vector(string name, float[] v)
        {
            writer.AddTensor(name, [v.Length], TypeF32, v.Length * 4L);
            plan.Add((name, wr => wr.WriteData(MemoryMarshal.AsBytes(v.AsSpan()))));
        }
        void Matrix(TensorRole role, int layer, Linear linear, bool rotary = false)
        {
            var m = linear.Weight;
            string name = n.Gguf(role, layer) + ".weight";
            writer.AddTensor(name, [m.Cols, m.Rows], matrixType, (long)m.Rows * RowBytes(m.Cols, matrixType));
            plan.Add((name, wr => WriteMatrix(wr, m, matrixType, rotary && permute ? c.HeadDim : 0)));
            if (linear.Bias is { } bias) Vector(n.Gguf(role, layer) + ".bias", bias);
        }
        void Norm(TensorRole role, int layer, NormWeights norm)
        {
            Vector(n.Gguf(role, layer) + ".weight", norm.Weight);
            if (norm.Bias is { } bias) Vector(n.Gguf(role, layer) + ".bias", bias);
        }
        Matrix(TensorRole.Embedding, -1, new Linear(w.Embedding));
        for (int l = 0; l < w.Layers.Length; l++)
        {
            var layer = w.Layers[l];
            Norm(TensorRole.AttentionNorm, l, layer.AttentionNorm);
            Matrix(TensorRole.Query, l, layer.Query, rotary: true);
            Matrix(TensorRole.Key, l, layer.Key, rotary: true);
            Matrix(TensorRole.Value, l, layer.Value);
            Matrix(TensorRole.AttentionOutput, l, layer.Output);
            if (layer.MlpNorm is { } mlpNorm) Norm(TensorRole.MlpNorm, l, mlpNorm);
            if (layer.Gate is { } gate) Matrix(TensorRole.Gate, l, gate);
            Matrix(TensorRole.Up, l, layer.Up);
            Matrix(TensorRole.Down, l, layer.Down);
        }
        Norm(TensorRole.FinalNorm, -1, w.FinalNorm);
        // Llama 3.x rope scaling travels as llama.cpp's converter writes it: one divisor per rotary pair.
        if (c.Llama3Scaling is { } scaling) Vector("rope_freqs.weight", Models.RotaryEmbedding.Llama3Factors(c.RopeTheta, c.RotaryDim, scaling));
        else if (c.RopeFrequencyFactors is { } factors) Vector("rope_freqs.weight", factors);
        if (!ReferenceEquals(w.Classifier.Weight, w.Embedding)) Matrix(TensorRole.Output, -1, w.Classifier);
        foreach (var (_, write) in plan) write(writer);
        writer.Complete();
    }

    private static void SetVocabulary(GgufWriter writer, int vocabSize, string? vocabularyPath)
    {
        if (vocabularyPath != null)
        {
            using var vocab = GgufFile.Open(vocabularyPath);
            if (vocab.Metadata.TryGetValue("tokenizer.ggml.tokens", out var tokens) && tokens is string[] list && list.Length != vocabSize)
                throw new SlingException($"{vocabularyPath}: its vocabulary has {list.Length} tokens, the model {vocabSize}");
            foreach (var (key, value) in vocab.Metadata)
                if (key.StartsWith("tokenizer.", StringComparison.Ordinal)) writer.Set(key, value);
            return;
        }
        // A placeholder SentencePiece-style vocabulary: control tokens, byte tokens, then filler pieces.
        var pieces = new string[vocabSize];
        var scores = new float[vocabSize];
        var types = new int[vocabSize];
        for (int i = 0; i < vocabSize; i++)
        {
            pieces[i] = i switch { 0 => "<unk>", 1 => "<s>", 2 => "</s>", < 259 => $"<0x{i - 3:X2}>", _ => $"\u2581t{i}" };
            scores[i] = i < 259 ? 0 : -i;
            types[i] = i < 3 ? 3 : i < 259 ? 6 : 1;
        }
        types[0] = 2;
        writer.Set("tokenizer.ggml.model", "llama");
        writer.Set("tokenizer.ggml.tokens", pieces);
        writer.Set("tokenizer.ggml.scores", scores);
        writer.Set("tokenizer.ggml.token_type", types);
        writer.Set("tokenizer.ggml.bos_token_id", 1u);
        writer.Set("tokenizer.ggml.eos_token_id", 2u);
    }

    private static int RowBytes(int cols, uint type) => type switch
    {
        TypeF32 => cols * 4,
        TypeF16 => cols * 2,
        TypeQ8_0 => cols / 32 * 34,
        _ => cols / 32 * 18,
    };

    // Rows are encoded in parallel a chunk at a time, then written in order. With headDim > 0 the
    // rows of each head go from Hugging Face's rotate-half order to llama.cpp's interleaved one.
    private static void WriteMatrix(GgufWriter writer, Kernels.WeightMatrix m, uint type, int headDim)
    {
        const int Chunk = 256;
        int rowBytes = RowBytes(m.Cols, type);
        var buffer = new byte[Chunk * rowBytes];
        for (int start = 0; start < m.Rows; start += Chunk)
        {
            int count = Math.Min(Chunk, m.Rows - start);
            Parallel.For(0, count, () => new float[m.Cols], (i, _, row) =>
            {
                int r = start + i;
                int source = headDim == 0 ? r : r / headDim * headDim + (r % headDim) % 2 * (headDim / 2) + (r % headDim) / 2;
                m.ReadRow(source, row);
                Encode(row, type, buffer.AsSpan(i * rowBytes, rowBytes));
                return row;
            }, _ => { });
            writer.WriteData(buffer.AsSpan(0, count * rowBytes));
        }
    }

    /// <summary>One row in the ggml type, as llama.cpp's reference quantizers write it.</summary>
    internal static void Encode(ReadOnlySpan<float> row, uint type, Span<byte> output)
    {
        switch (type)
        {
            case TypeF32:
                MemoryMarshal.AsBytes(row).CopyTo(output);
                return;
            case TypeF16:
                for (int i = 0; i < row.Length; i++) BitConverter.TryWriteBytes(output[(i * 2)..], (Half)row[i]);
                return;
        }
        for (int b = 0; b < row.Length / 32; b++)
        {
            var x = row.Slice(b * 32, 32);
            if (type == TypeQ8_0)
            {
                var block = output.Slice(b * 34, 34);
                float amax = 0;
                foreach (float v in x) amax = MathF.Max(amax, MathF.Abs(v));
                float d = amax / 127, id = d != 0 ? 1 / d : 0;
                BitConverter.TryWriteBytes(block, (Half)d);
                for (int j = 0; j < 32; j++) block[2 + j] = (byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
            }
            else
            {
                var block = output.Slice(b * 18, 18);
                float max = 0, amax = 0;
                foreach (float v in x)
                    if (MathF.Abs(v) > amax)
                    {
                        amax = MathF.Abs(v);
                        max = v;
                    }
                float d = max / -8, id = d != 0 ? 1 / d : 0;
                BitConverter.TryWriteBytes(block, (Half)d);
                for (int j = 0; j < 16; j++)
                {
                    int lo = Math.Min(15, (int)(x[j] * id + 8.5f)), hi = Math.Min(15, (int)(x[j + 16] * id + 8.5f));
                    block[2 + j] = (byte)(lo | hi << 4);
                }
            }
        }
    }
}

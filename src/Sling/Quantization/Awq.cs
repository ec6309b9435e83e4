namespace Sling.Quantization;

/// <summary>
/// Activation-aware weight quantization (AWQ, as NNCF applies it): input channels that carry large
/// activations are scaled up in the weights before quantization (finer steps where they matter) and
/// the inverse scale is folded into the operation that produces the input, so the model computes the
/// same function. The scale is s_c = E[|x_c|]^α, normalized; α is searched on a grid (α = 0 is plain
/// quantization) for the least output error ‖(W − Ŵ) X‖² over (up to 128 of) the sampled calibration
/// inputs, summed over the layers that share the input.
/// </summary>
internal static class Awq
{
    /// <summary>One layer to scale: its rows (read and written in place) and its quantization format.</summary>
    public sealed record Layer(float[] Weights, int Rows, int Cols, QuantizedFormat Format);

    /// <summary>
    /// The per-channel scale with the least output error, or null when plain quantization is best.
    /// <paramref name="tie"/> maps each channel to the channel whose scale it must share (grouped-query
    /// attention: o_proj inputs fed by one v row), or is null.
    /// </summary>
    public static double[]? Search(IReadOnlyList<Layer> layers, double[] meanMagnitude, IReadOnlyList<float[]> samples, int[]? tie = null)
    {
        int cols = meanMagnitude.Length;
        double bestError = double.PositiveInfinity;
        double[]? best = null;
        for (int step = 0; step <= 20; step++)
        {
            double alpha = step / 20.0;
            var s = Scales(meanMagnitude, alpha, tie);
            double error = layers.Sum(l => Error(l, s, samples));
            if (step == 0 || error < bestError * (1 - 1e-12))
            {
                bestError = error;
                best = step == 0 ? null : s;
            }
        }
        return best;
    }

    /// <summary>s_c = E[|x_c|]^α (tied channels averaged), divided by sqrt(max · min) so the scales center on 1.</summary>
    public static double[] Scales(double[] meanMagnitude, double alpha, int[]? tie)
    {
        int n = meanMagnitude.Length;
        var m = (double[])meanMagnitude.Clone();
        if (tie is not null)
        {
            var sums = new Dictionary<int, (double Sum, int Count)>();
            for (int c = 0; c < n; c++) sums[tie[c]] = (sums.GetValueOrDefault(tie[c]).Sum + m[c], sums.GetValueOrDefault(tie[c]).Count + 1);
            for (int c = 0; c < n; c++) m[c] = sums[tie[c]].Sum / sums[tie[c]].Count;
        }
        var s = m.Select(v => Math.Pow(Math.Max(v, 1e-6), alpha)).ToArray();
        double norm = Math.Sqrt(s.Max() * s.Min());
        for (int c = 0; c < n; c++) s[c] = Math.Clamp(s[c] / norm, 1e-4, 1e4);
        return s;
    }

    /// <summary>Σ_rows Σ_t (δ·x_t)² with δ = w − Q(w ∘ s) / s: the output error of quantizing the scaled layer on the samples.</summary>
    public static double Error(Layer layer, double[] s, IReadOnlyList<float[]> samples)
    {
        int cols = layer.Cols, groups = cols / layer.Format.GroupSize;
        double total = 0;
        object gate = new();
        Parallel.For(0, layer.Rows, () => 0.0, (r, _, sum) =>
        {
            var w = layer.Weights.AsSpan(r * cols, cols);
            var scaled = new float[cols];
            var codes = new byte[cols];
            var scales = new Half[groups];
            var zeros = new byte[groups];
            var d = new float[cols];
            for (int c = 0; c < cols; c++) scaled[c] = (float)(w[c] * s[c]);
            GroupQuantizer.QuantizeRow(scaled, layer.Format, codes, scales, zeros);
            for (int c = 0; c < cols; c++)
            {
                int g = c / layer.Format.GroupSize;
                int zero = layer.Format.Symmetric ? layer.Format.SymmetricZero : zeros[g];
                d[c] = (float)(w[c] - GroupQuantizer.Dequantize(codes[c], zero, scales[g]) / s[c]);
            }
            foreach (var x in samples)
            {
                double e = System.Numerics.Tensors.TensorPrimitives.Dot(d, x);
                sum += e * e;
            }
            return sum;
        }, sum => { lock (gate) total += sum; });
        return total;
    }

    /// <summary>Scales the layer's input channels (columns) by s.</summary>
    public static void ScaleColumns(float[] weights, int rows, int cols, double[] s)
    {
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) weights[r * cols + c] = (float)(weights[r * cols + c] * s[c]);
    }
}

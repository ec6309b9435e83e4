namespace Sling.Quantization;

/// <summary>
/// GPTQ: the columns of a layer are quantized in order, and each column's rounding error is
/// compensated on the columns not yet quantized, weighted by the inverse input Hessian, so the
/// layer's output on the calibration inputs moves as little as possible. A group's scale and zero
/// point are fixed when its first column comes up (from the weights as updated so far). Dead input
/// channels (never active) are zeroed; the Hessian is damped by 1 % of its mean diagonal.
/// </summary>
internal sealed class Gptq
{
    readonly double[,] _u; // upper Cholesky factor of H⁻¹
    readonly bool[] _dead;
    readonly int _cols;

    public Gptq(double[,] hessian, double damping = 0.01)
    {
        _cols = hessian.GetLength(0);
        var h = (double[,])hessian.Clone();
        _dead = new bool[_cols];
        double mean = 0;
        for (int i = 0; i < _cols; i++)
        {
            if (h[i, i] == 0)
            {
                _dead[i] = true;
                h[i, i] = 1;
            }
            mean += h[i, i];
        }
        mean /= _cols;
        for (int i = 0; i < _cols; i++) h[i, i] += damping * mean;
        _u = UpperCholesky(Inverse(h));
    }

    /// <summary>
    /// Runs GPTQ on one row: returns the values as they were when each was rounded (the codes come from
    /// these with the returned group parameters) and each group's (fp32 scale, zero).
    /// </summary>
    public (float[] Values, (float Scale, int Zero)[] Parameters) QuantizeRow(ReadOnlySpan<float> row, QuantizedFormat format)
    {
        int g = format.GroupSize, n = _cols;
        var w = new double[n];
        for (int i = 0; i < n; i++) w[i] = _dead[i] ? 0 : row[i];
        var values = new float[n];
        var parameters = new (float, int)[n / g];
        var group = new float[g];
        for (int i = 0; i < n; i++)
        {
            if (i % g == 0)
            {
                for (int k = 0; k < g; k++) group[k] = (float)w[i + k];
                parameters[i / g] = GroupQuantizer.Parameters(group, format);
            }
            var (scale, zero) = parameters[i / g];
            values[i] = (float)w[i];
            int code = GroupQuantizer.Code(values[i], format, scale, zero);
            double q = GroupQuantizer.Dequantize(code, zero, GroupQuantizer.ToHalf(scale));
            double err = (w[i] - q) / _u[i, i];
            for (int j = i + 1; j < n; j++) w[j] -= err * _u[i, j];
        }
        return (values, parameters);
    }

    static double[,] Inverse(double[,] a)
    {
        // Through the Cholesky factor of the (symmetric positive definite) matrix: A⁻¹ = L⁻ᵀ L⁻¹.
        int n = a.GetLength(0);
        var l = LowerCholesky(a);
        var inv = new double[n, n];
        var y = new double[n];
        for (int col = 0; col < n; col++)
        {
            // L y = e_col, then Lᵀ x = y.
            for (int i = 0; i < n; i++)
            {
                double s = i == col ? 1 : 0;
                for (int k = 0; k < i; k++) s -= l[i, k] * y[k];
                y[i] = s / l[i, i];
            }
            for (int i = n - 1; i >= 0; i--)
            {
                double s = y[i];
                for (int k = i + 1; k < n; k++) s -= l[k, i] * inv[k, col];
                inv[i, col] = s / l[i, i];
            }
        }
        return inv;
    }

    static double[,] LowerCholesky(double[,] a)
    {
        int n = a.GetLength(0);
        var l = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                double s = a[i, j];
                for (int k = 0; k < j; k++) s -= l[i, k] * l[j, k];
                if (i == j)
                {
                    if (s <= 0) throw new SlingException("GPTQ: the input Hessian is not positive definite (too few calibration samples?)");
                    l[i, i] = Math.Sqrt(s);
                }
                else l[i, j] = s / l[j, j];
            }
        return l;
    }

    static double[,] UpperCholesky(double[,] a)
    {
        var l = LowerCholesky(a);
        int n = a.GetLength(0);
        var u = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) u[i, j] = l[j, i];
        return u;
    }
}

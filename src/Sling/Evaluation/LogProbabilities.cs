namespace Sling.Evaluation;

public static class LogProbabilities
{
    /// <summary>log softmax of <paramref name="logits"/> in double precision.</summary>
    public static double[] Of(ReadOnlySpan<float> logits)
    {
        double max = double.NegativeInfinity;
        foreach (float l in logits) max = Math.Max(max, l);
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - max);
        double logSum = max + Math.Log(sum);
        var result = new double[logits.Length];
        for (int i = 0; i < logits.Length; i++) result[i] = logits[i] - logSum;
        return result;
    }
}

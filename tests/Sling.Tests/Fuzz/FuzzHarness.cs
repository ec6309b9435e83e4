using Sling.Models;
using Sling.Tests.Support;

namespace Sling.Tests.Fuzz;

/// <summary>
/// Runs a loader on mutated copies of a file and checks the contract: a corrupt file is a
/// <see cref="SlingException"/> (usually <see cref="Sling.Formats.ModelFormatException"/>) that names
/// the file, never another exception, never a hang; and a model that loads computes finite logits.
/// </summary>
public static class FuzzHarness
{
    public sealed record Failure(int Seed, string Mutation, string Problem);

    /// <summary>
    /// Mutates <paramref name="target"/> (restored after each case) <paramref name="cases"/> times and
    /// runs <paramref name="load"/>, which reads it (alone, or in its folder).
    /// </summary>
    public static List<Failure> Run(string target, int cases, int firstSeed, Func<IDisposable?> load, string? keepFailuresIn = null)
    {
        var original = File.ReadAllBytes(target);
        var failures = new List<Failure>();
        try
        {
            for (int seed = firstSeed; seed < firstSeed + cases; seed++)
            {
                var (bytes, what) = Mutator.Mutate(original, seed);
                File.WriteAllBytes(target, bytes);
                string? problem = Check(load, Path.GetFileName(target), AllocationBound(target, bytes.LongLength));
                if (problem == null) continue;
                failures.Add(new Failure(seed, what, problem));
                if (keepFailuresIn != null)
                    File.WriteAllBytes(Path.Combine(keepFailuresIn, $"{Path.GetFileName(target)}.seed{seed}"), bytes);
            }
        }
        finally
        {
            File.WriteAllBytes(target, original);
        }
        return failures;
    }

    // What a load may allocate on its own thread: a multiple of the files it reads, never what a
    // corrupt count or length asks for.
    private static long AllocationBound(string target, long targetBytes)
    {
        long folderBytes = Directory.GetFiles(Path.GetDirectoryName(target)!).Sum(f => new FileInfo(f).Length);
        return 32 * Math.Max(folderBytes, targetBytes) + (64L << 20);
    }

    private static string? Check(Func<IDisposable?> load, string fileName, long allocationBound)
    {
        // A thread of its own (not the thread pool, which other tests may hold busy in a full run), so
        // the 10 s below time the load alone.
        var task = Task.Factory.StartNew(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            string? Allocated()
            {
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                return allocated > allocationBound ? $"allocated {allocated:N0} bytes, more than {allocationBound:N0} for files this size" : null;
            }
            try
            {
                using var loaded = load();
                string? problem = Allocated();
                if (problem != null) return problem;
                if (loaded is LoadedModel model) return FiniteLogits(model.Transformer);
                if (loaded is Transformer transformer) return FiniteLogits(transformer);
                return null;
            }
            catch (SlingException e)
            {
                if (Allocated() is { } problem) return problem;
                return e.Message.Contains(fileName, StringComparison.Ordinal) || e.Message.Contains(Path.GetFileNameWithoutExtension(fileName), StringComparison.Ordinal)
                    ? null
                    : $"error does not name {fileName}: {e.Message}";
            }
            catch (Exception e)
            {
                return $"{e.GetType().Name}: {e.Message}";
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (task.Wait(TimeSpan.FromSeconds(10))) return task.Result;
        // A failure either way; but the next case rewrites the file this load may still have mapped (a
        // truncated mapping faults the whole process), so the load is given time to end first.
        task.Wait(TimeSpan.FromMinutes(2));
        return "no answer within 10 s";
    }

    // A model that loads computes; non-finite logits are the loader's fault only when a weight it
    // accepted is NaN or infinite (absurd but finite weights may overflow: that is arithmetic).
    private static string? FiniteLogits(Transformer model)
    {
        var state = model.CreateState(Math.Min(8, model.Config.MaxSeqLen));
        var logits = model.Prefill(state, [0, Math.Min(1, model.Config.VocabSize - 1)], 0);
        if (logits.All(float.IsFinite)) return null;
        var w = model.Weights;
        var matrices = w.Layers.SelectMany(l => l.Linears().Select(x => x.Linear.Weight)).Append(w.Embedding).Append(w.Classifier.Weight);
        return matrices.Any(m => m.FirstNonFiniteRow() >= 0) ? "loaded a NaN/Inf weight without reporting it, then computed non-finite logits" : null;
    }
}

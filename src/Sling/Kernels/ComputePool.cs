namespace Sling.Kernels;

/// <summary>One piece of parallel work: <see cref="Execute"/> runs once for every item index.</summary>
internal interface IParallelJob
{
    void Execute(int item);
}

/// <summary>
/// Persistent worker threads that share one operation's items through a counter (a thread takes the
/// next item when it is done with its last, so no core waits on a straggler). After an operation a
/// worker watches the operation counter for <see cref="SpinMicroseconds"/> (a generated token starts
/// ~110 operations, microseconds apart: a woken thread would start each one 5–20 µs late), then
/// sleeps on its event; the calling thread works too. One pool per thread count is shared by every
/// model in the process, and operations from several callers run one after another.
/// </summary>
internal sealed class ComputePool
{
    private static readonly Dictionary<int, ComputePool> Pools = new();
    [ThreadStatic] private static bool _insideWorker;

    private readonly ManualResetEventSlim[] _wake;
    private readonly int[] _sleeping; // per worker: 1 while it may be blocked on its event
    private int _operation;           // operations started; a worker waits for it to move
    private readonly object _gate = new();
    private IParallelJob? _job;
    private int _items;
    private int _next;
    private int _running;
    private Exception? _failure;

    private ComputePool(int threads)
    {
        Threads = threads;
        _wake = new ManualResetEventSlim[threads - 1];
        _sleeping = new int[threads - 1];
        for (int i = 0; i < _wake.Length; i++)
        {
            _wake[i] = new ManualResetEventSlim(false, spinCount: 0);
            int index = i;
            new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"sling-worker-{i + 1}" }.Start();
        }
    }

    /// <summary>The shared pool with <paramref name="threads"/> threads (0 or less: one per core).</summary>
    public static ComputePool Get(int threads)
    {
        if (threads <= 0) threads = Environment.ProcessorCount;
        lock (Pools)
        {
            if (!Pools.TryGetValue(threads, out var pool)) Pools[threads] = pool = new ComputePool(threads);
            return pool;
        }
    }

    /// <summary>How long an idle worker watches for the next operation before it sleeps.</summary>
    internal const int SpinMicroseconds = 500;

    /// <summary>Multiply-adds below which a fork/join (a few microseconds) costs more than it saves.</summary>
    internal const long MinParallelWork = 1 << 15;

    /// <summary>Threads that take part in an operation, the caller's included.</summary>
    public int Threads { get; }

    /// <summary>Runs <paramref name="job"/> for every item in [0, items), spread over the pool.</summary>
    internal void Run(int items, IParallelJob job)
    {
        if (items <= 0) return;
        if (Threads == 1 || items == 1 || _insideWorker)
        {
            for (int i = 0; i < items; i++) job.Execute(i);
            return;
        }
        lock (_gate)
        {
            _job = job;
            _items = items;
            _failure = null;
            Volatile.Write(ref _next, 0);
            Volatile.Write(ref _running, _wake.Length);
            // The increment is a full fence: a worker that marks itself sleeping after this reads the
            // new count before it blocks, and one marked before is woken here.
            Interlocked.Increment(ref _operation);
            for (int i = 0; i < _wake.Length; i++)
                if (Volatile.Read(ref _sleeping[i]) != 0) _wake[i].Set();
            _insideWorker = true;
            try
            {
                Work();
            }
            finally
            {
                _insideWorker = false;
            }
            var spin = new SpinWait();
            for (int i = 0; Volatile.Read(ref _running) != 0; i++)
                if (i < 4096) Thread.SpinWait(1); // the workers' last items end microseconds apart
                else spin.SpinOnce(sleep1Threshold: -1);
            _job = null;
            if (_failure is { } failure) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>y = W x for one float vector (exact float activations), spread over the pool.</summary>
    public void Multiply(WeightMatrix w, float[] x, float[] y)
    {
        if (x.Length < w.Cols || y.Length < w.Rows)
            throw new ArgumentException($"vectors of {x.Length}/{y.Length} for a {w.Rows}x{w.Cols} matrix");
        using var input = new ActivationRows(1, w.Cols);
        input.SetCount(1);
        x.AsSpan(0, w.Cols).CopyTo(input.Row(0));
        new MatMul().Run(this, w, input, y, integer: false);
    }

    /// <summary>Runs <paramref name="body"/> for every index in [0, count) in parallel when the work is worth a split.</summary>
    internal void For(int count, long workPerItem, IParallelJob body)
    {
        if (count * workPerItem < MinParallelWork) for (int i = 0; i < count; i++) body.Execute(i);
        else Run(count, body);
    }

    private void Work()
    {
        var job = _job!;
        int items = _items;
        try
        {
            for (int i = Interlocked.Increment(ref _next) - 1; i < items; i = Interlocked.Increment(ref _next) - 1)
                job.Execute(i);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _failure, e, null);
            Volatile.Write(ref _next, items); // the others stop taking items
        }
    }

    private void WorkerLoop(int index)
    {
        _insideWorker = true;
        int seen = 0;
        while (true)
        {
            seen = WaitForOperation(index, seen);
            Work();
            Interlocked.Decrement(ref _running);
        }
    }

    // Returns the operation count once it differs from seen: watched for a while, then slept on.
    private int WaitForOperation(int index, int seen)
    {
        long until = 0;
        for (int i = 0; ; i++)
        {
            int now = Volatile.Read(ref _operation);
            if (now != seen) return now;
            if ((i & 255) == 255)
            {
                long t = System.Diagnostics.Stopwatch.GetTimestamp();
                if (until == 0) until = t + System.Diagnostics.Stopwatch.Frequency * SpinMicroseconds / 1_000_000;
                else if (t > until) break;
            }
            Thread.SpinWait(1);
        }
        var wake = _wake[index];
        wake.Reset();
        Interlocked.Exchange(ref _sleeping[index], 1);
        while (Volatile.Read(ref _operation) == seen) wake.Wait();
        Volatile.Write(ref _sleeping[index], 0);
        return Volatile.Read(ref _operation);
    }
}

using Sling.Models;
using Sling.Tests.Support;

namespace Sling.Tests.Models;

/// <summary>A sequence whose keys and values live in blocks of a shared pool computes exactly what a
/// sequence with a cache of its own computes; blocks are reserved, bounded and returned.</summary>
public class PagedCacheTests
{
    [SharedTheory("models/hf-tiny/llama/config.json")]
    [InlineData(KvCachePrecision.F32)]
    [InlineData(KvCachePrecision.F16)]
    [InlineData(KvCachePrecision.Int8)]
    public void BlocksGiveTheSameLogitsBitForBit(KvCachePrecision precision)
    {
        using var model = ModelLoader.LoadTransformer(SharedData.PathOf("models/hf-tiny/llama"));
        model.CachePrecision = precision;
        int vocab = model.Config.VocabSize;
        var tokens = Engine.RandomTokens(7, 23, vocab);
        var own = model.CreateState(32, 4);
        // Blocks of 3 positions, taken from a pool another sequence also uses (in between, so this
        // sequence's blocks are not contiguous).
        var pool = model.CreateBlockPool(blockPositions: 3, blocks: 20);
        var paged = model.CreateState(32, 4, pool);
        var other = model.CreateState(32, 4, pool);
        for (int p = 0; p < tokens.Length; p++)
        {
            Assert.True(paged.Cache.Reserve(p + 1));
            Assert.True(other.Cache.Reserve(p + 1));
            var a = model.Forward(own, tokens[p], p).ToArray();
            var b = model.Forward(paged, tokens[p], p).ToArray();
            model.Forward(other, tokens[tokens.Length - 1 - p], p);
            Assert.Equal(a, b);
        }
        Assert.Equal(16, 20 - pool.FreeBlocks); // 23 positions = 8 blocks each
    }

    [Fact]
    public void ReservationsAreBoundedByThePoolAndReturned()
    {
        var pool = new KvBlockPool(layers: 2, kvDim: 8, headDim: 4, blockPositions: 32, blocks: 10, KvCachePrecision.F32);
        var a = new KvCache(pool);
        var b = new KvCache(pool);
        Assert.True(a.Reserve(200)); // 7 blocks
        Assert.Equal(224, a.Capacity);
        Assert.False(b.Reserve(100)); // 4 more do not fit: nothing is taken
        Assert.Equal(3, pool.FreeBlocks);
        Assert.True(b.Reserve(96));
        a.Release();
        Assert.Equal(7, pool.FreeBlocks);
        Assert.Throws<InvalidOperationException>(() => b.Write(0, 96, new float[8], new float[8]));
        Assert.Equal(3L * pool.BlockBytes, b.Bytes);
    }
}

using Distributed.Grains.Abstractions.Training;
using Distributed.Grains.Training;

namespace Distributed.Grains.Tests;

// A worker checks the ring place a caller hands it before it connects anywhere or waits on anyone.
public class RingPlaceTests
{
    [Theory]
    [InlineData(new[] { 0, 2 }, 0, 2, 1, "10.0.0.2:7000", null)]
    [InlineData(new[] { 1 }, 1, 2, 0, null, "a group that holds rank 0")]
    [InlineData(new[] { 0, 0 }, 0, 2, 1, "10.0.0.2:7000", "distinct group ranks in 0..3")]
    [InlineData(new[] { 0, 9 }, 0, 2, 1, "10.0.0.2:7000", "distinct group ranks in 0..3")]
    [InlineData(new[] { 0 }, 2, 2, 1, "10.0.0.2:7000", "a position within 1..4 leaders")]
    [InlineData(new[] { 0 }, 0, 5, 1, "10.0.0.2:7000", "a position within 1..4 leaders")]
    [InlineData(new[] { 0 }, 0, 2, -1, "10.0.0.2:7000", "a next rank in 0..3")]
    [InlineData(new[] { 0 }, 0, 2, 1, "not an endpoint", "the next leader's link as address:port")]
    [InlineData(new[] { 0 }, 0, 2, 1, null, "the next leader's link as address:port")]
    [InlineData(new int[0], 0, 1, 0, null, "a group of 1..4 ranks")]
    public void A_place_names_what_is_wrong_with_it_for_rank_0_of_4(int[] group, int position, int leaders, int next, string? link, string? problem)
    {
        Assert.Equal(problem, new RingPlace(group, position, leaders, next, link).Problem(rank: 0, workers: 4));
    }

    [Fact]
    public void A_member_needs_no_link_and_a_lone_leader_rings_with_no_one()
    {
        Assert.Null(new RingPlace([1, 3], 0, 2, 0, null).Problem(rank: 3, workers: 4));
        Assert.Null(new RingPlace([0, 1, 2, 3], 0, 1, 0, null).Problem(rank: 0, workers: 4));
        Assert.Equal("a group of 1..4 ranks", new RingPlace(null!, 0, 1, 0, null).Problem(rank: 0, workers: 4));
    }

    // Overlapping the backward pass splits every worker's allreduce in two: a group that gathers first cannot.
    [Fact]
    public void Only_groups_of_one_may_overlap_the_backward_pass()
    {
        Assert.Null(new RingPlace([0], 0, 4, 1, "10.0.0.2:7000", OverlapBackward: true).Problem(rank: 0, workers: 4));
        Assert.Equal("groups of one worker to overlap the backward pass",
            new RingPlace([0, 2], 0, 2, 1, "10.0.0.2:7000", OverlapBackward: true).Problem(rank: 0, workers: 4));
    }

    [Theory]
    [InlineData(new[] { 0, 1, 2, 3 }, new[] { "10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000", "10.0.0.4:7000" }, 0, null)]
    [InlineData(new[] { 0, 1, 2 }, new[] { "10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000" }, 0, "4 leader ranks and links")]
    [InlineData(new[] { 0, 1, 1, 3 }, new[] { "10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000", "10.0.0.4:7000" }, 0, "distinct leader ranks in 0..3")]
    [InlineData(new[] { 1, 0, 2, 3 }, new[] { "10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000", "10.0.0.4:7000" }, 0, "leader rank 0 at position 0")]
    [InlineData(new[] { 0, 1, 2, 3 }, new[] { "10.0.0.1:7000", "10.0.0.2:7000", "nowhere", "10.0.0.4:7000" }, 0, "the link of the leader at position 2 as address:port")]
    // Position 3 connects to no one (its partners are below it): the others' links are not its concern.
    [InlineData(new[] { 3, 1, 2, 0 }, new[] { null, null, null, "10.0.0.4:7000" }, 3, null)]
    public void A_halving_doubling_place_names_every_leader_and_the_links_it_connects_to(int[] leaders, string?[] links, int position, string? problem)
    {
        Assert.Equal(problem, new RingPlace([0], position, 4, 0, null, leaders, links).Problem(rank: 0, workers: 4));
    }

    // Auto halves and doubles among a power of two of 4 or more silos' leaders while a gradient is at most 2 MB; else it rings.
    [Theory]
    [InlineData(4, 1 << 20, true)]
    [InlineData(8, 2 << 20, true)]
    [InlineData(8, 4 << 20, false)]
    [InlineData(2, 1 << 20, false)]
    [InlineData(6, 1 << 20, false)]
    public void Auto_halves_and_doubles_among_enough_leaders_for_gradients_up_to_2_MB(int leaders, long bytes, bool halves)
    {
        Assert.Equal(halves, GradientExchange.HalvesAmong(leaders, bytes));
    }

    // Auto: the workers' own exchange across silos for gradients past the chunk, or small ones among 4, 8 or 16 silos;
    // the star within one silo, and whenever a silo offers no link.
    [Theory]
    [InlineData(Allreduce.Auto, 4, true, 4, 300_000L, true)]
    [InlineData(Allreduce.Auto, 8, true, 8, 300_000L, true)]
    [InlineData(Allreduce.Auto, 4, true, 2, 300_000L, false)]
    [InlineData(Allreduce.Auto, 6, true, 3, 300_000L, false)]
    [InlineData(Allreduce.Auto, 2, true, 2, 4_230_264L, true)]
    [InlineData(Allreduce.Auto, 4, true, 1, 4_230_264L, false)]
    [InlineData(Allreduce.Auto, 4, false, 4, 4_230_264L, false)]
    [InlineData(Allreduce.Star, 8, true, 8, 4_230_264L, false)]
    [InlineData(Allreduce.HalvingDoubling, 3, true, 1, 300_000L, true)]
    [InlineData(Allreduce.Ring, 1, true, 1, 4_230_264L, false)]
    public void The_workers_average_among_themselves_when_asked_or_when_auto_finds_it_pays(Allreduce allreduce, int workers, bool everyLink, int silos, long bytes, bool among)
    {
        var parallel = new Distributed.Grains.Abstractions.Training.DataParallelOptions { Workers = workers, Allreduce = allreduce };
        Assert.Equal(among, GradientExchange.AmongWorkers(parallel, workers, everyLink, silos, bytes));
    }
}

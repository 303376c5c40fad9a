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
}

#include "tda/core/io.hpp"

#include <gtest/gtest.h>

#include "test_util.hpp"

using namespace tda::core;
using tda::core::io::read_numbers;

// The expected sequences were observed with Debian's ripser (stream >> float; ignore()).
TEST(NumberScanner, ReadsLikeAnIstream) {
  EXPECT_EQ(read_numbers("1 2 3"), (std::vector<value_t>{1, 2, 3}));
  EXPECT_EQ(read_numbers("1,2,\n3,"), (std::vector<value_t>{1, 2, 3}));
  EXPECT_EQ(read_numbers("1;2;3"), (std::vector<value_t>{1, 2, 3}));
  EXPECT_EQ(read_numbers("1x2x3"), (std::vector<value_t>{1, 2, 3}));
  EXPECT_EQ(read_numbers("1,,2,3"), (std::vector<value_t>{1}));  // two separators stop the reader
  EXPECT_EQ(read_numbers("1 x 2 3"), (std::vector<value_t>{1}));
  EXPECT_EQ(read_numbers("1e 2 3"), (std::vector<value_t>{}));  // incomplete exponent
  EXPECT_EQ(read_numbers("1e50 2"), (std::vector<value_t>{}));  // float overflow
  EXPECT_EQ(read_numbers("1 2 inf"), (std::vector<value_t>{1, 2}));
  EXPECT_EQ(read_numbers("1 2 nan"), (std::vector<value_t>{1, 2}));
  EXPECT_EQ(read_numbers(".5 -2 +3 1.e1 2E-1"), (std::vector<value_t>{0.5f, -2, 3, 10, 0.2f}));
  EXPECT_EQ(read_numbers("  \t\n"), (std::vector<value_t>{}));
  EXPECT_EQ(read_numbers("1.6967853e-001"), (std::vector<value_t>{1.6967853e-001f}));
}

TEST(Triangle, PointsFromCount) {
  EXPECT_EQ(io::points_from_triangle(0), 1u);
  EXPECT_EQ(io::points_from_triangle(1), 2u);
  EXPECT_EQ(io::points_from_triangle(3), 3u);
  EXPECT_EQ(io::points_from_triangle(4950), 100u);
  EXPECT_THROW(io::points_from_triangle(4), InvalidInput);
  EXPECT_THROW(io::points_from_triangle(2), InvalidInput);
}

TEST(PointCloud, RowsBlankLinesAndRaggedRows) {
  auto pc = io::parse_point_cloud("1 2\n\n3,4\r\n  5 6  \n");
  EXPECT_EQ(pc.n, 3u);
  EXPECT_EQ(pc.dim, 2u);
  EXPECT_EQ(pc.coords, (std::vector<value_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_THROW(io::parse_point_cloud("1 2\n3\n"), InvalidInput);
  EXPECT_THROW(io::parse_point_cloud("\n\n"), InvalidInput);
}

TEST(DistanceMatrix, FullMatrixUsesTheLowerPartOfEachRow) {
  auto m = io::parse_distance_matrix("0 1 2\n1 0 3\n2 3 0\n");
  EXPECT_EQ(m.n, 3u);
  EXPECT_EQ(m.lower, (std::vector<value_t>{1, 2, 3}));
  // row-layout lower triangular files read the same way
  auto l = io::parse_distance_matrix("\n1\n2,3\n");
  EXPECT_EQ(l.lower, m.lower);
  // a lower triangle on one line is a single row: one point
  EXPECT_EQ(io::parse_distance_matrix("1 2 3").n, 1u);
}

TEST(DistanceMatrix, LowerAndUpper) {
  auto l = io::parse_lower_distance("1\n2 3\n4 5 6\n");
  EXPECT_EQ(l.n, 4u);
  EXPECT_EQ(l.lower, (std::vector<value_t>{1, 2, 3, 4, 5, 6}));
  // upper: d(0,1)=1 d(0,2)=2 d(0,3)=4 d(1,2)=3 d(1,3)=5 d(2,3)=6
  auto u = io::parse_upper_distance("1 2 4\n3 5\n6\n");
  EXPECT_EQ(u.n, 4u);
  EXPECT_EQ(u.lower, l.lower);
  EXPECT_EQ(io::parse_lower_distance("").n, 1u);
  EXPECT_THROW(io::parse_lower_distance("1 2 3 4"), InvalidInput);
}

TEST(DistanceMatrix, FixturesParse) {
  auto s = io::parse_lower_distance(tda::test::read_file(tda::test::fixture("sphere_3_192.lower_distance_matrix")));
  EXPECT_EQ(s.n, 192u);
  auto pc = io::parse_point_cloud(tda::test::read_file(tda::test::fixture("sphere_3_192_points.dat")));
  EXPECT_EQ(pc.n, 192u);
  EXPECT_EQ(pc.dim, 3u);
}

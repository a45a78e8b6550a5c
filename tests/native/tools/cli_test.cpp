#include "cli.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vanelia::cli {
namespace {

ArgParser MakeParser() {
  ArgParser parser("vanelia demo", "A demo subcommand.");
  parser.AddPositional("VIDEO", "input video");
  parser.AddFrameRangeOptions();
  parser.AddOutputOptions("track file");
  parser.AddOption("--camera-height", "M", "camera height in metres", "1.5");
  parser.AddOption("--distance", "I J M", "distance between points", "", 3);
  return parser;
}

TEST(ArgParser, ParsesPositionalsOptionsAndFlags) {
  ArgParser parser = MakeParser();
  ASSERT_TRUE(parser.Parse({"clip.mp4",
                            "-o",
                            "out.json",
                            "--start",
                            "3",
                            "--every=2",
                            "--overwrite",
                            "--distance",
                            "1",
                            "2",
                            "0.5"}));
  EXPECT_EQ(parser.Get("VIDEO"), "clip.mp4");
  EXPECT_EQ(parser.Get("--output"), "out.json");
  EXPECT_TRUE(parser.Flag("--overwrite"));
  EXPECT_FALSE(parser.Flag("--quiet"));
  EXPECT_DOUBLE_EQ(parser.GetDouble("--camera-height"), 1.5);
  EXPECT_EQ(parser.GetAll("--distance"),
            (std::vector<std::string>{"1", "2", "0.5"}));
  const FrameRange range = FrameRange::FromArgs(parser);
  EXPECT_EQ(range.start, 3);
  EXPECT_EQ(range.end, -1);
  EXPECT_EQ(range.every, 2);
}

TEST(ArgParser, NegativeNumbersAreValues) {
  ArgParser parser = MakeParser();
  ASSERT_TRUE(parser.Parse({"clip.mp4", "--camera-height", "-2"}));
  EXPECT_DOUBLE_EQ(parser.GetDouble("--camera-height"), -2.0);
}

TEST(ArgParser, HelpListsEveryOptionWithDefaults) {
  const std::string help = MakeParser().Help();
  for (const char* expected : {"usage: vanelia demo VIDEO",
                               "--start N",
                               "(default: 0)",
                               "-o, --output PATH",
                               "--overwrite",
                               "--camera-height M",
                               "(default: 1.5)"}) {
    EXPECT_NE(help.find(expected), std::string::npos) << expected << "\n"
                                                      << help;
  }
}

TEST(ArgParser, HelpReturnsFalse) {
  ArgParser parser = MakeParser();
  testing::internal::CaptureStdout();
  EXPECT_FALSE(parser.Parse({"--help"}));
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("usage:"), std::string::npos);
}

TEST(ArgParser, Badarg_UnknownOptionNamesIt) {
  ArgParser parser = MakeParser();
  try {
    parser.Parse({"clip.mp4", "--frobnicate"});
    FAIL();
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("--frobnicate"),
              std::string::npos);
  }
}

TEST(ArgParser, Badarg_MissingPositionalNamesIt) {
  ArgParser parser = MakeParser();
  try {
    parser.Parse({"-o", "x.json"});
    FAIL();
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("VIDEO"), std::string::npos);
  }
}

TEST(ArgParser, Badarg_NonNumericValueNamesOption) {
  ArgParser parser = MakeParser();
  ASSERT_TRUE(parser.Parse({"clip.mp4", "--start", "abc"}));
  try {
    FrameRange::FromArgs(parser);
    FAIL();
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("--start"), std::string::npos);
  }
}

TEST(ArgParser, Badarg_MissingValues) {
  ArgParser parser = MakeParser();
  EXPECT_THROW(parser.Parse({"clip.mp4", "--distance", "1", "2"}), UsageError);
}

TEST(FrameRange, Badarg_RulesNameTheOption) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"v", "--start", "-1"},
           {"v", "--every", "0"},
           {"v", "--start", "5", "--end", "5"}}) {
    ArgParser parser = MakeParser();
    ASSERT_TRUE(parser.Parse(args));
    EXPECT_THROW(FrameRange::FromArgs(parser), UsageError);
  }
}

TEST(ArgParser, RequiredOutputMissingIsUsageError) {
  ArgParser parser = MakeParser();
  ASSERT_TRUE(parser.Parse({"clip.mp4"}));
  try {
    parser.Get("--output");
    FAIL();
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("--output"), std::string::npos);
  }
}

}  // namespace
}  // namespace vanelia::cli

// ReadOptions::Check names the field, its value and the rule.
#include "vanelia/core/error.hpp"
#include "vanelia/decode/video_reader.hpp"

#include <string>

#include <gtest/gtest.h>

namespace vanelia {
namespace {

void ExpectBadOption(const ReadOptions& options, const std::string& field) {
  try {
    options.Check();
    ADD_FAILURE() << "no error for " << field;
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find(field), std::string::npos)
        << error.what();
  }
}

TEST(ReadOptions, DefaultsAreValid) {
  EXPECT_NO_THROW(ReadOptions().Check());
}

TEST(ReadOptions, Badarg) {
  ReadOptions options;
  options.start = -1;
  ExpectBadOption(options, "ReadOptions::start = -1");
  options = {};
  options.start = 5;
  options.end = 5;
  ExpectBadOption(options, "ReadOptions::end = 5");
  options = {};
  options.every = 0;
  ExpectBadOption(options, "ReadOptions::every = 0");
  options = {};
  options.max_width = -2;
  ExpectBadOption(options, "ReadOptions::max_width = -2");
  options = {};
  options.target_width = 100;
  ExpectBadOption(options, "ReadOptions::target_width");
  options = {};
  options.max_width = 100;
  options.target_width = 100;
  options.target_height = 50;
  ExpectBadOption(options, "set at most one");
  options = {};
  options.threads = -1;
  ExpectBadOption(options, "ReadOptions::threads = -1");
  options = {};
  options.sequence_fps = {0, 1};
  ExpectBadOption(options, "ReadOptions::sequence_fps = 0/1");
}

TEST(ReadOptions, OpenChecksOptionsAndStart) {
  ReadOptions options;
  options.every = 0;
  EXPECT_THROW(VideoReader::Open("whatever.mp4", options), InputError);
  EXPECT_THROW(VideoReader::Open(""), InputError);
}

}  // namespace
}  // namespace vanelia

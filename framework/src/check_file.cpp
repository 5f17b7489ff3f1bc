#include "sidecar/check.hpp"

#include <system_error>
#include <utility>

#include "sidecar/duration.hpp"

namespace sidecar {
namespace {

namespace fs = std::filesystem;

class file_check final : public check {
 public:
  explicit file_check(file_check_spec spec) : spec_(std::move(spec)) {}

  std::string_view kind() const override { return "file"; }
  std::string target() const override { return spec_.path.string(); }

  // NOTE: the file system calls block the thread. That is brief for a local
  // file, but a hung network file system would stall every duty on this executor.
  asio::awaitable<check_result> run() override { co_return inspect(); }

 private:
  check_result inspect() const {
    std::error_code error;
    fs::file_status status = fs::status(spec_.path, error);
    if (status.type() == fs::file_type::not_found) return missing();
    if (error) return cannot_check(error);
    if (status.type() == fs::file_type::directory) {
      return check_failed("error", "file " + target() + " is a directory, expected a file");
    }
    if (!spec_.max_age) return check_passed();

    fs::file_time_type modified = fs::last_write_time(spec_.path, error);
    if (error == std::errc::no_such_file_or_directory) return missing();  // removed since
    if (error) return cannot_check(error);
    return check_age(fs::file_time_type::clock::now() - modified);
  }

  check_result check_age(fs::file_time_type::duration age) const {
    // A modification time in the future, as after a clock step, counts as fresh.
    auto age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(age);
    if (age_ms <= *spec_.max_age) return check_passed();

    // Whole seconds read best ("42s ago"), unless rounding down would hide
    // the milliseconds by which the age passes max_age.
    std::chrono::milliseconds displayed_age = std::chrono::floor<std::chrono::seconds>(age_ms);
    if (displayed_age <= *spec_.max_age) displayed_age = age_ms;
    return check_failed("file_too_old",
                        "file " + target() + " was modified " + format_duration(displayed_age) +
                            " ago, expected at most " + format_duration(*spec_.max_age));
  }

  check_result missing() const {
    return check_failed("file_missing", "file " + target() + " is missing");
  }

  check_result cannot_check(const std::error_code& error) const {
    return check_failed("error", "file " + target() + " cannot be checked: " + error.message());
  }

  file_check_spec spec_;
};

}  // namespace

std::unique_ptr<check> make_file_check(file_check_spec spec) {
  return std::make_unique<file_check>(std::move(spec));
}

}  // namespace sidecar

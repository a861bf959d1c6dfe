// How a background duty judges a failure: a dependency that is down (transient: wait and
// try again, however long it takes), a message that can never succeed (permanent: dead
// letter it, with the reason), or anything else (unknown: retry a bounded number of
// times). Every client library throws a DependencyUnavailable subclass for "cannot reach,
// timed out, refused for now", so the classification is by type, never by message text.
#pragma once
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace os {

// The servers the service depends on.
enum class Dependency { Postgres, Redis, RabbitMQ };

// Its name in logs, metrics and /ready: "postgres", "redis", "rabbitmq".
constexpr std::string_view dependency_name(Dependency d) {
  switch (d) {
    case Dependency::Postgres:
      return "postgres";
    case Dependency::Redis:
      return "redis";
    case Dependency::RabbitMQ:
      break;
  }
  return "rabbitmq";
}

// A server (PostgreSQL, Redis, RabbitMQ) is unreachable, timed out, or refused the call
// for a reason that goes away by itself (read-only replica, loading, out of memory).
class DependencyUnavailable : public std::runtime_error {
 public:
  DependencyUnavailable(Dependency dependency, const std::string& what)
      : std::runtime_error(what), dependency_(dependency) {}
  Dependency dependency() const { return dependency_; }

 private:
  Dependency dependency_;
};

// A broken invariant of our own code (a bug), never a dependency that is down: classified
// as unknown, so it is retried a bounded number of times and reported, not waited out.
class LogicError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// The input itself is wrong (malformed message, unknown task, an order that does not
// exist): retrying can never help.
class PermanentFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class FailureKind { Transient, Permanent, Unknown };

struct Failure {
  FailureKind kind = FailureKind::Unknown;
  std::optional<Dependency> dependency;  // set for Transient
  std::string reason;                    // never empty
  bool is_down(Dependency d) const { return kind == FailureKind::Transient && dependency == d; }
};

// Classifies a caught exception. An exception without a message still gets a reason.
inline Failure classify(const std::exception_ptr& error) {
  auto reason = [](const char* what, const char* fallback) {
    return std::string(what != nullptr && *what != '\0' ? what : fallback);
  };
  try {
    std::rethrow_exception(error);
  } catch (const DependencyUnavailable& e) {
    return {FailureKind::Transient, e.dependency(), reason(e.what(), "dependency unavailable")};
  } catch (const PermanentFailure& e) {
    return {FailureKind::Permanent, std::nullopt, reason(e.what(), "permanent failure")};
  } catch (const std::exception& e) {
    return {FailureKind::Unknown, std::nullopt, reason(e.what(), "unexpected error")};
  } catch (...) {
    return {FailureKind::Unknown, std::nullopt, "unexpected non-standard exception"};
  }
}

}  // namespace os

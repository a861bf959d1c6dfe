#include "app/dlq.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <ctime>
#include <iostream>
#include <set>

#include "amqp/client.hpp"
#include "events/topology.hpp"
#include "redis/client.hpp"
#include "tasks/task_queue.hpp"

namespace os::app {
namespace {

constexpr int kUnreachable = 1;
constexpr int kBadArguments = 2;
constexpr int kAllTasks = 100000;

struct DeadLetter {
  std::string source;  // "event" | "task"
  std::string id;
  std::string order_id;
  std::string reason;
  int attempts = 0;
  std::int64_t dead_lettered_ms = 0;
};

std::string iso_time(std::int64_t unix_ms) {
  if (unix_ms <= 0) return "";
  const std::time_t seconds = unix_ms / 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[40];
  std::snprintf(out, sizeof out, "%s.%03dZ", text, static_cast<int>(unix_ms % 1000));
  return out;
}

std::string header(const amqp::Delivery& d, const std::string& name) {
  const auto it = d.headers.find(name);
  return it == d.headers.end() ? std::string{} : it->second;
}

DeadLetter from_event(const amqp::Delivery& d) {
  DeadLetter l{"event", d.message_id, "", header(d, "x-dead-letter-reason"), d.retry_count, 0};
  boost::system::error_code ec;
  const auto body = boost::json::parse(d.body, ec);
  if (!ec && body.is_object()) {
    if (const auto* id = body.as_object().if_contains("order_id"); id && id->is_string()) {
      l.order_id = std::string(id->as_string());
    }
    if (l.id.empty()) {
      if (const auto* id = body.as_object().if_contains("event_id"); id && id->is_string()) {
        l.id = std::string(id->as_string());
      }
    }
  }
  if (l.reason.empty()) l.reason = "rejected by a consumer (no reason recorded)";
  try {
    l.dead_lettered_ms = std::stoll(header(d, "x-dead-lettered-at"));
  } catch (const std::exception&) {
  }
  return l;
}

DeadLetter from_task(const tasks::Task& t) {
  return {"task",
          t.entry_id,
          t.order_id,
          t.last_error,
          t.attempt + t.deferrals + 1,
          t.dead_lettered_ms};
}

void print(const std::vector<DeadLetter>& letters, bool json) {
  if (json) {
    for (const auto& l : letters) {
      boost::json::object o{
          {"source", l.source},     {"id", l.id},
          {"order_id", l.order_id}, {"reason", l.reason},
          {"attempts", l.attempts}, {"dead_lettered_at", iso_time(l.dead_lettered_ms)}};
      std::cout << boost::json::serialize(o) << '\n';
    }
    return;
  }
  std::printf("%-6s %-38s %-38s %-8s %-25s %s\n", "SOURCE", "ID", "ORDER_ID", "ATTEMPTS",
              "DEAD_LETTERED_AT", "REASON");
  for (const auto& l : letters) {
    std::printf("%-6s %-38s %-38s %-8d %-25s %s\n", l.source.c_str(), l.id.c_str(),
                l.order_id.c_str(), l.attempts, iso_time(l.dead_lettered_ms).c_str(),
                l.reason.c_str());
  }
  std::fflush(stdout);
}

// Runs `job` on a private io_context (the Redis client is asynchronous).
template <typename T>
T run_async(const std::function<awaitable<T>(asio::io_context&)>& job) {
  asio::io_context io;
  auto result = asio::co_spawn(io, job(io), asio::use_future);
  io.run();
  return result.get();
}

tasks::TaskQueue* make_queue(asio::io_context& io, const config::Settings& s,
                             std::unique_ptr<redis::RedisClient>& redis,
                             std::unique_ptr<tasks::TaskQueue>& queue) {
  redis = std::make_unique<redis::RedisClient>(io.get_executor(), s.redis.tasks, 1,
                                               std::chrono::milliseconds(3000), nullptr);
  queue = std::make_unique<tasks::TaskQueue>(*redis, s.tasks);
  return queue.get();
}

std::vector<tasks::Task> dead_tasks(const config::Settings& s, int limit) {
  return run_async<std::vector<tasks::Task>>(
      [&](asio::io_context& io) -> awaitable<std::vector<tasks::Task>> {
        std::unique_ptr<redis::RedisClient> redis;
        std::unique_ptr<tasks::TaskQueue> queue;
        co_return co_await make_queue(io, s, redis, queue)->dead_letters(limit);
      });
}

int report_unreachable(const std::exception& e) {
  std::cerr << "order-service dlq: " << e.what() << '\n';
  return kUnreachable;
}

}  // namespace

int dlq_list(const config::Settings& s, int limit, bool json) {
  try {
    std::vector<DeadLetter> letters;
    {
      const auto topology = events::topology_for(s.rabbit);
      auto broker = events::connect_declared(s.rabbit, topology);
      // basic.get without ack; closing the connection puts every message back.
      while (static_cast<int>(letters.size()) < limit) {
        auto d = broker->get(topology.dlq);
        if (!d) break;
        letters.push_back(from_event(*d));
      }
    }
    const int left = limit - static_cast<int>(letters.size());
    if (left > 0) {
      for (const auto& t : dead_tasks(s, left)) letters.push_back(from_task(t));
    }
    print(letters, json);
    return 0;
  } catch (const DependencyUnavailable& e) {
    return report_unreachable(e);
  }
}

int dlq_replay(const config::Settings& s, const std::vector<std::string>& ids, bool all) {
  std::set<std::string> wanted(ids.begin(), ids.end());
  auto selected = [&](const std::string& id) { return all || wanted.contains(id); };
  std::set<std::string> found;
  int events_replayed = 0;
  int tasks_replayed = 0;
  try {
    {
      const auto topology = events::topology_for(s.rabbit);
      auto broker = events::connect_declared(s.rabbit, topology);
      auto publisher = std::make_unique<amqp::AmqpConnection>(s.rabbit);
      // Look at each message once: the ones replayed may come back (still malformed).
      std::uint32_t budget = 1;
      for (std::uint32_t seen = 0; seen < budget; ++seen) {
        auto d = broker->get(topology.dlq);
        if (!d) break;
        if (seen == 0) budget = d->remaining + 1;
        const auto letter = from_event(*d);
        if (!selected(letter.id)) continue;  // left unacked: back in the queue at close
        amqp::OutgoingMessage m{topology.exchange,
                                topology.routing_key,
                                d->body,
                                d->message_id,
                                d->type.empty() ? "new_order" : d->type,
                                0,
                                std::nullopt};
        if (d->headers.contains("traceparent")) {
          m.headers["traceparent"] = d->headers.at("traceparent");  // the trace goes on
        }
        const auto result = publisher->publish_confirmed({m});
        if (!result.front().confirmed()) {
          throw amqp::AmqpError("RabbitMQ did not take the replayed event: " +
                                result.front().reason);
        }
        broker->ack(d->delivery_tag);
        found.insert(letter.id);
        ++events_replayed;
      }
    }
    std::vector<tasks::Task> chosen;
    for (auto& t : dead_tasks(s, kAllTasks)) {
      if (selected(t.entry_id)) chosen.push_back(std::move(t));
    }
    const auto moved = run_async<std::vector<std::string>>(
        [&](asio::io_context& io) -> awaitable<std::vector<std::string>> {
          std::unique_ptr<redis::RedisClient> redis;
          std::unique_ptr<tasks::TaskQueue> queue;
          co_return co_await make_queue(io, s, redis, queue)->replay(chosen);
        });
    for (const auto& id : moved) found.insert(id);
    tasks_replayed = static_cast<int>(moved.size());
  } catch (const DependencyUnavailable& e) {
    return report_unreachable(e);
  }
  std::cout << "replayed " << events_replayed + tasks_replayed
            << " dead letter(s): " << events_replayed << " event(s), " << tasks_replayed
            << " task(s)\n";
  int status = 0;
  for (const auto& id : wanted) {
    if (!found.contains(id)) {
      std::cerr << "order-service dlq: no dead letter with id " << id << '\n';
      status = kBadArguments;
    }
  }
  return status;
}

}  // namespace os::app

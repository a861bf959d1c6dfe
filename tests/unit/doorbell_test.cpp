// Doorbell: the api wakes its process's relay; rings coalesce; a detached waiter is never
// called, and ring() then tells the caller to wake the work another way.
#include "core/doorbell.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <thread>

using os::Doorbell;

TEST(Doorbell, WithNobodyAttachedRingingSaysSo) {
  Doorbell bell;
  EXPECT_FALSE(bell.attached());
  EXPECT_FALSE(bell.ring());
  EXPECT_FALSE(bell.take());
}

TEST(Doorbell, RingsCoalesceIntoOneInterruptUntilTaken) {
  boost::asio::io_context io;
  Doorbell bell;
  int interrupts = 0;
  bell.attach(io.get_executor(), [&] { ++interrupts; });
  EXPECT_TRUE(bell.ring());
  EXPECT_TRUE(bell.ring());
  EXPECT_TRUE(bell.ring());
  io.run();
  io.restart();
  EXPECT_EQ(interrupts, 1);
  EXPECT_TRUE(bell.take());
  EXPECT_FALSE(bell.take());
  EXPECT_TRUE(bell.ring());  // taken: the next ring interrupts again
  io.run();
  EXPECT_EQ(interrupts, 2);
}

TEST(Doorbell, AnInterruptPostedBeforeDetachIsDropped) {
  boost::asio::io_context io;
  Doorbell bell;
  int interrupts = 0;
  bell.attach(io.get_executor(), [&] { ++interrupts; });
  EXPECT_TRUE(bell.ring());
  bell.detach();
  io.run();
  EXPECT_EQ(interrupts, 0);
  EXPECT_FALSE(bell.ring());
}

TEST(Doorbell, RungFromAnotherThreadInterruptsOnTheWaitersThread) {
  boost::asio::io_context io;
  Doorbell bell;
  std::thread::id ran_on;
  bell.attach(io.get_executor(), [&] { ran_on = std::this_thread::get_id(); });
  std::thread ringer([&] { EXPECT_TRUE(bell.ring()); });
  ringer.join();
  io.run();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_TRUE(bell.take());
}

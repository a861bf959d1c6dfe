#include "domain/order.hpp"

#include <gtest/gtest.h>

#include "domain/order_json.hpp"

using namespace os::domain;

TEST(StatusTransitions, FollowTheLifecycle) {
  using S = OrderStatus;
  EXPECT_EQ(check_transition(S::Pending, S::Paid), Transition::Allowed);
  EXPECT_EQ(check_transition(S::Pending, S::Canceled), Transition::Allowed);
  EXPECT_EQ(check_transition(S::Paid, S::Shipped), Transition::Allowed);
  EXPECT_EQ(check_transition(S::Paid, S::Canceled), Transition::Allowed);
  EXPECT_EQ(check_transition(S::Paid, S::Paid), Transition::NoOp);
  EXPECT_EQ(check_transition(S::Pending, S::Shipped), Transition::Forbidden);
  EXPECT_EQ(check_transition(S::Shipped, S::Paid), Transition::Forbidden);
  EXPECT_EQ(check_transition(S::Shipped, S::Canceled), Transition::Forbidden);
  EXPECT_EQ(check_transition(S::Canceled, S::Paid), Transition::Forbidden);
  EXPECT_EQ(check_transition(S::Paid, S::Pending), Transition::Forbidden);
}

TEST(StatusNames, RoundTrip) {
  for (auto s :
       {OrderStatus::Pending, OrderStatus::Paid, OrderStatus::Shipped, OrderStatus::Canceled}) {
    EXPECT_EQ(parse_status(to_string(s)), s);
  }
  EXPECT_FALSE(parse_status("pending").has_value());
  EXPECT_FALSE(parse_status("DELIVERED").has_value());
}

TEST(OrderJson, RendersTheApiShape) {
  Order o;
  o.id = "0190a0b0-0000-7000-8000-000000000001";
  o.user_id = 7;
  o.items = {{1, 2, 1000}};
  o.total_cents = 2000;
  o.created_at = o.updated_at = "2026-01-01T12:00:00.000Z";
  EXPECT_EQ(order_to_json(o),
            R"({"id":"0190a0b0-0000-7000-8000-000000000001","user_id":7,)"
            R"("items":[{"product_id":1,"quantity":2,"price":10.0}],"total_price":20.0,)"
            R"("status":"PENDING","created_at":"2026-01-01T12:00:00.000Z",)"
            R"("updated_at":"2026-01-01T12:00:00.000Z","processed_at":null})");
}

TEST(OrderJson, ItemsRoundTripThroughJsonb) {
  const std::vector<OrderItem> items{{1, 2, 1050}, {9, 1, 1}};
  // PostgreSQL re-renders jsonb with spaces and sorted keys.
  const auto back = items_from_json(R"([{"price": 10.50, "quantity": 2, "product_id": 1},)"
                                    R"( {"price": 0.01, "quantity": 1, "product_id": 9}])");
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].price_cents, 1050);
  EXPECT_EQ((*back)[1].product_id, 9);
  EXPECT_EQ(items_from_json(items_to_json(items))->at(0).quantity, 2);
}

//! A small catalog shared by the tests: customers with every type, orders and events.

use tessera_rules::{Catalog, Field, RowSchema, Type};

pub fn catalog(time_zone: chrono_tz::Tz) -> Catalog {
    Catalog {
        customer: RowSchema::new(vec![
            Field::new("customer_id", Type::String),
            Field::new("age", Type::Int),
            Field::new("score", Type::Float),
            Field::new("spend", Type::Money),
            Field::new("country", Type::String),
            Field::new("vip", Type::Bool),
            Field::new("joined", Type::Date),
            Field::new("seen_at", Type::Timestamp),
            Field::new("spend_90d", Type::Money),
            Field::new("interests", Type::List),
        ]),
        orders: Some(RowSchema::new(vec![
            Field::new("order_id", Type::String),
            Field::new("customer_id", Type::String),
            Field::new("ordered_at", Type::Timestamp),
            Field::new("amount", Type::Money),
            Field::new("category", Type::String),
            Field::new("qty", Type::Int),
        ])),
        events: Some(RowSchema::new(vec![
            Field::new("event_id", Type::String),
            Field::new("customer_id", Type::String),
            Field::new("occurred_at", Type::Timestamp),
            Field::new("name", Type::String),
        ])),
        time_zone,
        money_decimals: 2,
    }
}

//! The `tessera.toml` written next to the demo data.

/// Project config mapping the demo files; `as_of` is the day after the
/// observation window ends.
pub(crate) const CONFIG: &str = r#"# Tessera project config for the demo shop (written by `tessera demo`).
[project]
name = "demo shop"
as_of = "2026-01-01"
time_zone = "Europe/Berlin"
money_decimals = 2

[sources.customers]
path = "customers.csv"
columns = { customer_id = "CustomerID", signed_up_at = { column = "SignupDate", format = "%d/%m/%Y" } }

[sources.customers.attributes]
age = { column = "Age", type = "int", min = 18, max = 120 }
gender = { column = "Gender", type = "string", values = ["f", "m", "x"] }
country = { column = "Country", type = "string" }
city = { column = "City", type = "string" }
company_size = { column = "CompanySize", type = "string", values = ["1-10", "11-50", "51-200", "201-1000", "1000+"] }
industry = { column = "Industry", type = "string" }
device = { column = "Device", type = "string", values = ["desktop", "mobile", "tablet"] }
os = { column = "OS", type = "string" }
browser = { column = "Browser", type = "string" }
email_opt_in = { column = "EmailOptIn", type = "bool" }
sms_opt_in = { column = "SmsOptIn", type = "bool" }
loyalty_member = { column = "LoyaltyMember", type = "bool" }

[sources.orders]
path = "orders.csv"
columns = { order_id = "OrderID", customer_id = "CustomerID", ordered_at = "OrderDate", amount = "Total", category = "Category", channel = { column = "Channel", values = ["web", "app", "store", "phone"] } }
attributes.items = { column = "Items", type = "int", min = 1, max = 1000 }

[sources.events]
path = "events.ndjson"
columns = { event_id = "event_id", customer_id = "user", occurred_at = "ts", name = "event", properties = "props" }

[sources.feedback]
path = "feedback.csv"
columns = { feedback_id = "FeedbackID", customer_id = "CustomerID", given_at = "Date", kind = { column = "Kind", values = ["nps", "csat"] }, score = { column = "Score", min = 0, max = 10 }, comment = "Comment" }

# Your own features: a SQL aggregate per customer over orders (the default) or events. Money is in
# minor units (cents); `age_days` counts days before as_of (1 = the day before).
[features.custom]
shoes_spend_365d = "sum(amount) filter (where category = 'shoes' and age_days <= 365)"
distinct_categories = "count(distinct category)"
largest_order = "max(amount)"
sale_page_views_90d = { over = "events", sql = '''count(*) filter (where name = 'page_view' and properties like '%"/sale"%' and age_days <= 90)''' }
"#;

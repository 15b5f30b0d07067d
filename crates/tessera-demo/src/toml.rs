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
# Segments: rules in the segment language (docs/segments.md). Money is written in major units.
[segments.vip]
rule = 'spend_365d > 1000.00 and rfm_segment in ["Champions", "Loyal"]'
description = "High spenders the RFM model also ranks at the top"
tags = ["value"]

[segments.shoe_lovers]
rule = 'count(orders where category = "shoes" and amount > 0 last 90 days) >= 2'
tags = ["behavioural"]

[segments.sale_browsers_no_app]
rule = 'count(events where name = "page_view" and properties.page starts_with "/sale" last 90 days) >= 1 and count(events where name = "app_open" last 90 days) = 0'
tags = ["behavioural", "technographic"]

[segments.dach_b2b]
rule = 'country in ["DE", "AT", "CH"] and company_size in ["51-200", "201-1000", "1000+"]'
tags = ["geographic", "firmographic"]

[segments.at_risk_valuable]
rule = 'monetary_total >= 500.00 and days_since(last_order_at) between 120 days and 365 days and email_opt_in'
description = "Spent well, quiet for four months to a year, reachable by email"
tags = ["churn"]

[segments.detractors]
rule = 'nps_class = "detractor" or csat_latest <= 2'
tags = ["feedback"]

[segments.platinum]
rule = 'sum(orders.amount last 365 days) >= 2500.00'
[segments.gold]
rule = 'sum(orders.amount last 365 days) >= 1000.00'
[segments.silver]
rule = 'sum(orders.amount last 365 days) >= 250.00 or in segment "loyalty"'
[segments.loyalty]
rule = 'loyalty_member'

[groups.tier]
segments = ["platinum", "gold", "silver"]
description = "Loyalty tiers by spend over the last year, first match wins"

# Statistical segments: k-means on log-scaled, standardized RFM features, k chosen by evidence
# (docs/clustering.md). Customers who never ordered have no recency and get no cluster.
[clustering]
features = ["recency_days", "frequency", "monetary_total", "spend_365d"]
transform = ["log1p", "standardize"]
k = "auto"
k_range = [2, 8]
seed = 42

[segments.top_cluster]
rule = 'cluster = 1'
description = "The cluster with the highest total spend"
tags = ["cluster"]

# Lifetime value and churn (docs/clv.md): BG/NBD for purchases and P(alive), Gamma-Gamma for
# spend, twelve months of value discounted at 1% a month. The model is also refitted without
# the last 90 days and checked against them (run.json, clv.validation).
[clv]
model = "bgnbd"
horizon = 12
period = "month"
discount_rate = 0.01
churn_thresholds = [0.3, 0.7]
holdout_days = 90

[segments.valuable_slipping]
rule = 'clv >= 100.00 and churn_risk in ["high", "medium"]'
description = "Worth keeping, and the model doubts they are still buying"
tags = ["value", "churn"]

# Consent: the customer attribute that allows each channel. An export names its channel and
# leaves out every member without that consent (docs/exports.md).
[consent]
email = "email_opt_in"
sms = "sms_opt_in"

# Audience files, written by `tessera run` into out/exports/ and by `tessera export`. A tenth of
# each audience is flagged holdout = true (the same customers every run) to measure the campaign.
[exports.winback_email]
segment = "valuable_slipping"
channel = "email"
fields = ["customer_id", "country", "clv", "p_alive", "rfm_segment"]
holdout = 0.1
description = "Win-back offer by email to valuable customers the model thinks are slipping"

[exports.vip_sms]
segment = "vip"
channel = "sms"
fields = ["customer_id", "spend_365d", "tier"]
format = "parquet"
"#;

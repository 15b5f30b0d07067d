//! `tessera clv`: fits a lifetime-value model to an order log or to customers' summaries,
//! prints the parameters with intervals and the holdout validation, and writes every
//! customer's predictions.

use crate::Failure;
use crate::cli::{Cli, ClvArgs};
use crate::clv_stage::{self, Summaries};
use anyhow::{Context as _, anyhow};
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use hashbrown::HashMap;
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use tessera_core::config::ClvPeriod;
use tessera_features::btyd::{Purchase, TimeUnit, split};
use tessera_models::clv::{self, CountModel, Horizon};

/// Customers read from the input: their ids and summaries, with holdout purchases when the
/// input was an order log with orders after the calibration period.
struct Input {
    ids: Vec<String>,
    summaries: Summaries,
    holdout: Option<Holdout>,
    /// Customers whose first purchase came after the calibration period.
    late: usize,
    calibration_end: Option<i32>,
}

struct Holdout {
    last_day: i32,
    actual: Vec<f64>,
}

pub fn clv(args: &ClvArgs, cli: &Cli) -> Result<(), Failure> {
    let model = CountModel::from_key(&args.model).expect("clap checks the model");
    let unit = if args.unit == "days" {
        TimeUnit::Days
    } else {
        TimeUnit::Weeks
    };
    if !(args.penalizer.is_finite() && args.penalizer >= 0.0) {
        return Err(Failure::Input(anyhow!(
            "--penalizer {}: expected a number >= 0",
            args.penalizer
        )));
    }
    if !(0.0..1.0).contains(&args.discount_rate) {
        return Err(Failure::Input(anyhow!(
            "--discount-rate {}: expected at least 0 and below 1",
            args.discount_rate
        )));
    }
    let input = match (&args.orders, &args.summary) {
        (Some(orders), _) => read_orders(orders, args, unit)?,
        (None, Some(summary)) => read_summary(summary)?,
        (None, None) => unreachable!("clap requires one input"),
    };
    let s = &input.summaries;
    if s.x.is_empty() {
        return Err(Failure::Input(anyhow!(
            "no customer has a purchase in the calibration period"
        )));
    }
    let fitted = clv_stage::fit(model, args.penalizer, s)?;
    let unit_name = if unit == TimeUnit::Days {
        "days"
    } else {
        "weeks"
    };
    let mut report = clv_stage::report(&fitted, unit_name);
    let validation = match &input.holdout {
        Some(h) => {
            let cal = input
                .calibration_end
                .expect("orders have a calibration end");
            let length = f64::from(h.last_day - cal) / unit.days();
            let v = clv::validate(
                &fitted.count,
                &fitted.triples,
                &fitted.index,
                &h.actual,
                length,
                7,
            )
            .map_err(|e| Failure::Other(e.into()))?;
            Some(v)
        }
        None => None,
    };
    let day = |d: i32| tessera_core::value::days_to_date(d).to_string();
    report["calibration_end"] = json!(input.calibration_end.map(day));
    report["holdout_end"] = json!(input.holdout.as_ref().map(|h| day(h.last_day)));
    report["customers_first_buying_after_calibration"] = json!(input.late);
    report["validation"] = serde_json::to_value(&validation)?;

    let written = match &args.out {
        Some(dir) => {
            let period = ClvPeriod::parse(&args.period).expect("clap checks the period");
            let horizon = Horizon {
                periods: args.horizon,
                period_length: period.days() / unit.days(),
                discount_rate: args.discount_rate,
            };
            Some(write_predictions(dir, &input, &fitted, &horizon)?)
        }
        None => None,
    };

    // The document: the count model's fields at the top level, as the papers name them.
    let count = report["count"].clone();
    let mut doc = json!({
        "model": args.model,
        "unit": unit_name,
        "params": count["params"],
        "std_errors": count["std_errors"],
        "intervals": count["intervals"],
        "log_likelihood": count["log_likelihood"],
        "customers": count["customers"],
        "triples": count["rows"],
        "diagnostics": count["diagnostics"],
    });
    for key in [
        "spend",
        "spend_frequency_correlation",
        "warnings",
        "calibration_end",
        "holdout_end",
        "customers_first_buying_after_calibration",
        "validation",
    ] {
        doc[key] = report[key].clone();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    if cli.quiet {
        return Ok(());
    }
    let mut text = String::new();
    use std::fmt::Write;
    let _ = writeln!(
        text,
        "time in {unit_name}{}",
        input
            .calibration_end
            .map(|d| format!(", calibration ending {}", day(d)))
            .unwrap_or_default()
    );
    clv_stage::describe_fit(&fitted.count.summary, &mut text);
    if let Some(g) = &fitted.spend {
        clv_stage::describe_fit(&g.summary, &mut text);
    }
    if let Some(c) = fitted.correlation {
        let _ = writeln!(
            text,
            "frequency-spend correlation among repeat buyers: {c:.3}"
        );
    }
    for w in &fitted.warnings {
        let _ = writeln!(text, "warning: {w}");
    }
    if input.late > 0 {
        let _ = writeln!(
            text,
            "{} customers first bought after the calibration period and are not in the fit",
            input.late
        );
    }
    if let (Some(v), Some(h), Some(cal)) = (&validation, &input.holdout, input.calibration_end) {
        let _ = writeln!(
            text,
            "\nholdout {} .. {} ({:.2} {unit_name}): repeat purchases per customer, actual vs predicted",
            day(cal + 1),
            day(h.last_day),
            v.holdout_length
        );
        clv_stage::describe_validation(v, &mut text);
    }
    if let Some(path) = written {
        let _ = writeln!(text, "wrote {}", path.display());
    }
    print!("{text}");
    Ok(())
}

/// A date as the order logs write it: `YYYY-MM-DD`, `YYYYMMDD`, or a timestamp starting with
/// a date (`2024-03-01T10:00:00Z`, `2024-03-01 10:00`), whose written date is taken.
fn parse_day(text: &str) -> Option<i32> {
    let s = text.trim();
    let date = |d: &str| tessera_core::value::parse_date(d, None).ok();
    if let Some(d) = date(s) {
        return Some(d);
    }
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return date(&format!("{}-{}-{}", &s[..4], &s[4..6], &s[6..]));
    }
    match s.as_bytes().get(10) {
        Some(b'T' | b' ') => date(&s[..10]),
        _ => None,
    }
}

fn option_day(flag: &str, text: &str) -> Result<i32, Failure> {
    parse_day(text).ok_or_else(|| Failure::Input(anyhow!("{flag} {text}: expected YYYY-MM-DD")))
}

/// One order: the customer, the day and the amount in cents.
struct Order {
    customer: u32,
    day: i32,
    cents: i64,
}

fn read_orders(path: &Path, args: &ClvArgs, unit: TimeUnit) -> Result<Input, Failure> {
    let cal = option_day(
        "--calibration-end",
        args.calibration_end.as_deref().unwrap_or_default(),
    )?;
    let holdout_end = args
        .holdout_end
        .as_deref()
        .map(|d| option_day("--holdout-end", d))
        .transpose()?;
    if let Some(h) = holdout_end.filter(|&h| h <= cal) {
        return Err(Failure::Input(anyhow!(
            "--holdout-end {} is not after --calibration-end {}",
            tessera_core::value::days_to_date(h),
            tessera_core::value::days_to_date(cal)
        )));
    }
    let mut ids: Vec<String> = Vec::new();
    let mut orders: Vec<Order> = Vec::new();
    {
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut push = |id: &str, day: i32, amount: f64| {
            let next = index.len() as u32;
            let customer = *index.entry_ref(id).or_insert_with(|| {
                ids.push(id.to_string());
                next
            });
            orders.push(Order {
                customer,
                day,
                cents: (amount * 100.0).round() as i64,
            });
        };
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        match ext.as_str() {
            "csv" => read_orders_csv(path, &mut push)?,
            "parquet" => read_orders_parquet(path, &mut push)?,
            _ => {
                return Err(Failure::Input(anyhow!(
                    "{}: expected a .csv or .parquet file",
                    path.display()
                )));
            }
        }
    }
    let last_order = orders.iter().map(|o| o.day).max();
    let holdout_end = holdout_end.or(last_order.filter(|&d| d > cal));
    orders.sort_unstable_by_key(|o| (o.customer, o.day));
    let mut s = Summaries {
        x: vec![],
        t_x: vec![],
        t: vec![],
        mean_spend: vec![],
    };
    let mut kept_ids = Vec::new();
    let mut actual = Vec::new();
    let mut late = 0;
    let mut purchases: Vec<Purchase> = Vec::new();
    for group in orders.chunk_by(|a, b| a.customer == b.customer) {
        purchases.clear();
        purchases.extend(group.iter().filter(|o| o.cents >= 0).map(|o| Purchase {
            day: o.day,
            amount: o.cents,
        }));
        if purchases.is_empty() {
            continue;
        }
        let sp = split(&purchases, cal, holdout_end.unwrap_or(cal), unit)
            .map_err(|e| Failure::Other(e.into()))?;
        let Some(c) = sp.calibration else {
            late += 1;
            continue;
        };
        kept_ids.push(ids[group[0].customer as usize].clone());
        s.x.push(f64::from(c.x));
        s.t_x.push(c.t_x);
        s.t.push(c.t);
        s.mean_spend.push(c.mean_repeat_amount.map(|m| m / 100.0));
        actual.push(f64::from(sp.holdout));
    }
    Ok(Input {
        ids: kept_ids,
        summaries: s,
        holdout: holdout_end.map(|last_day| Holdout { last_day, actual }),
        late,
        calibration_end: Some(cal),
    })
}

fn read_orders_csv(path: &Path, push: &mut dyn FnMut(&str, i32, f64)) -> Result<(), Failure> {
    let fail = |e: &dyn std::fmt::Display| Failure::Input(anyhow!("{}: {e}", path.display()));
    let mut reader = csv::Reader::from_path(path).map_err(|e| fail(&e))?;
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| fail(&e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let find = |name: &str| {
        names.iter().position(|n| n == name).ok_or_else(|| {
            fail(&format!(
                "no column `{name}`{}",
                tessera_core::config::did_you_mean(name, names.iter().map(String::as_str))
            ))
        })
    };
    let (ci, di, ai) = (find("customer_id")?, find("ordered_at")?, find("amount")?);
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(|e| fail(&e))? {
        let line = record.position().map_or(0, |p| p.line());
        let cell = |j: usize| record.get(j).unwrap_or("").trim();
        let at = |j: usize| format!("line {line}, column {} ({})", j + 1, names[j]);
        let id = cell(ci);
        if id.is_empty() {
            return Err(fail(&format!("{}: the customer id is empty", at(ci))));
        }
        let day = parse_day(cell(di)).ok_or_else(|| {
            fail(&format!(
                "{}: `{}` is not a date (YYYY-MM-DD, YYYYMMDD or a timestamp)",
                at(di),
                cell(di)
            ))
        })?;
        let amount: f64 = cell(ai)
            .parse()
            .ok()
            .filter(|a: &f64| a.is_finite())
            .ok_or_else(|| fail(&format!("{}: `{}` is not an amount", at(ai), cell(ai))))?;
        push(id, day, amount);
    }
    Ok(())
}

fn read_orders_parquet(path: &Path, push: &mut dyn FnMut(&str, i32, f64)) -> Result<(), Failure> {
    let batch = crate::cmd_cluster::read_table(path, &[])?;
    let fail = |e: String| Failure::Input(anyhow!("{}: {e}", path.display()));
    let column = |name: &str| {
        batch.column_by_name(name).cloned().ok_or_else(|| {
            let names: Vec<&str> = batch
                .schema_ref()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            fail(format!(
                "no column `{name}`{}",
                tessera_core::config::did_you_mean(name, names.into_iter())
            ))
        })
    };
    let ids = arrow_cast::cast(&column("customer_id")?, &DataType::Utf8)?;
    let ids = ids.as_any().downcast_ref::<StringArray>().expect("Utf8");
    let when = column("ordered_at")?;
    let days: Vec<Option<i32>> = match when.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let t = arrow_cast::cast(&when, &DataType::Utf8)?;
            let t = t.as_any().downcast_ref::<StringArray>().expect("Utf8");
            t.iter().map(|v| v.and_then(parse_day)).collect()
        }
        _ => {
            let d = arrow_cast::cast(&when, &DataType::Date32).map_err(|_| {
                fail(format!(
                    "column `ordered_at` is {}, expected a date, timestamp or text",
                    when.data_type()
                ))
            })?;
            let d = d
                .as_any()
                .downcast_ref::<arrow_array::Date32Array>()
                .expect("Date32");
            d.iter().collect()
        }
    };
    let amounts = arrow_cast::cast(&column("amount")?, &DataType::Float64)
        .map_err(|_| fail("column `amount` is not numeric".to_string()))?;
    let amounts = amounts
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("Float64");
    for (i, day) in days.iter().enumerate() {
        let row = |what: &str| fail(format!("row {}: {what}", i + 1));
        let id = ids
            .is_valid(i)
            .then(|| ids.value(i))
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| row("the customer id is empty"))?;
        let day = day.ok_or_else(|| row("`ordered_at` is empty or not a date"))?;
        let amount = (amounts.is_valid(i) && amounts.value(i).is_finite())
            .then(|| amounts.value(i))
            .ok_or_else(|| row("`amount` is empty"))?;
        push(id, day, amount);
    }
    Ok(())
}

/// Reads `customer_id, x, t_x, T[, mean_spend]` (or lifetimes' `frequency`, `recency`,
/// `monetary_value`; `ID`/`id` for the id).
fn read_summary(path: &Path) -> Result<Input, Failure> {
    const NUMERIC: [&str; 8] = [
        "x",
        "frequency",
        "t_x",
        "recency",
        "T",
        "mean_spend",
        "monetary_value",
        "zbar",
    ];
    let numeric: Vec<String> = NUMERIC.iter().map(|s| s.to_string()).collect();
    let batch = crate::cmd_cluster::read_table(path, &numeric)?;
    let fail = |e: String| Failure::Input(anyhow!("{}: {e}", path.display()));
    let find = |names: &[&str]| -> Option<ArrayRef> {
        names.iter().find_map(|n| batch.column_by_name(n).cloned())
    };
    let need = |names: &[&str]| {
        find(names).ok_or_else(|| fail(format!("no column `{}`", names.join("` or `"))))
    };
    let numbers = |a: ArrayRef, name: &str| -> Result<Float64Array, Failure> {
        let c = arrow_cast::cast(&a, &DataType::Float64)
            .map_err(|_| fail(format!("column `{name}` is not numeric")))?;
        Ok(c.as_any()
            .downcast_ref::<Float64Array>()
            .expect("Float64")
            .clone())
    };
    let x = numbers(need(&["x", "frequency"])?, "x")?;
    let t_x = numbers(need(&["t_x", "recency"])?, "t_x")?;
    let t = numbers(need(&["T"])?, "T")?;
    let m = find(&["mean_spend", "monetary_value", "zbar"])
        .map(|a| numbers(a, "mean_spend"))
        .transpose()?;
    let ids: Vec<String> = match find(&["customer_id", "ID", "id"]) {
        Some(a) => {
            let s = arrow_cast::cast(&a, &DataType::Utf8)?;
            let s = s.as_any().downcast_ref::<StringArray>().expect("Utf8");
            s.iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect()
        }
        None => (1..=batch.num_rows()).map(|i| i.to_string()).collect(),
    };
    let mut s = Summaries {
        x: Vec::with_capacity(x.len()),
        t_x: Vec::with_capacity(x.len()),
        t: Vec::with_capacity(x.len()),
        mean_spend: Vec::with_capacity(x.len()),
    };
    for i in 0..batch.num_rows() {
        let value = |a: &Float64Array, name: &str| {
            (a.is_valid(i))
                .then(|| a.value(i))
                .ok_or_else(|| fail(format!("row {}: `{name}` is empty", i + 1)))
        };
        s.x.push(value(&x, "x")?);
        s.t_x.push(value(&t_x, "t_x")?);
        s.t.push(value(&t, "T")?);
        s.mean_spend.push(
            m.as_ref()
                .filter(|m| m.is_valid(i))
                .map(|m| m.value(i))
                .filter(|&v| s.x[i] > 0.0 && v > 0.0),
        );
    }
    let checked = (0..s.x.len()).try_for_each(|i| clv::check_summary(i, s.x[i], s.t_x[i], s.t[i]));
    if let Err(e) = checked {
        return Err(fail(match e {
            // In file terms: data rows count from 1.
            clv::ClvError::BadSummary {
                row,
                x,
                t_x,
                t,
                reason,
            } => format!(
                "data row {} ({}): {reason} (x = {x}, t_x = {t_x}, T = {t})",
                row + 1,
                ids[row]
            ),
            e => e.to_string(),
        }));
    }
    Ok(Input {
        ids,
        summaries: s,
        holdout: None,
        late: 0,
        calibration_end: None,
    })
}

/// Writes `DIR/clv.parquet`: each customer's summary and predictions with intervals.
fn write_predictions(
    dir: &Path,
    input: &Input,
    fitted: &clv_stage::Fitted,
    horizon: &Horizon,
) -> Result<std::path::PathBuf, Failure> {
    let s = &input.summaries;
    let scores = clv::score(
        &fitted.count,
        fitted.spend.as_ref(),
        horizon,
        true,
        &fitted.triples,
        &fitted.index,
        &s.mean_spend,
    )
    .map_err(|e| Failure::Other(e.into()))?;
    let f64s = |v: Vec<Option<f64>>| -> ArrayRef {
        Arc::new(Float64Array::from(
            v.into_iter()
                .map(|v| v.filter(|v| v.is_finite()))
                .collect::<Vec<_>>(),
        ))
    };
    let all = |f: &dyn Fn(&clv::Score) -> Option<f64>| f64s(scores.iter().map(f).collect());
    let mut fields = vec![Field::new("customer_id", DataType::Utf8, false)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(input.ids.clone()))];
    let mut add = |name: &str, c: ArrayRef| {
        fields.push(Field::new(name, c.data_type().clone(), true));
        columns.push(c);
    };
    add("x", f64s(s.x.iter().map(|&v| Some(v)).collect()));
    add("t_x", f64s(s.t_x.iter().map(|&v| Some(v)).collect()));
    add("T", f64s(s.t.iter().map(|&v| Some(v)).collect()));
    add("mean_spend", f64s(s.mean_spend.clone()));
    add("p_alive", all(&|c| Some(c.p_alive)));
    add(
        "expected_purchases",
        all(&|c| Some(c.expected_purchases.value)),
    );
    add(
        "expected_purchases_lower",
        all(&|c| Some(c.expected_purchases.lower)),
    );
    add(
        "expected_purchases_upper",
        all(&|c| Some(c.expected_purchases.upper)),
    );
    add("expected_spend", all(&|c| c.expected_spend));
    add("clv", all(&|c| c.clv.map(|v| v.value)));
    add("clv_lower", all(&|c| c.clv.map(|v| v.lower)));
    add("clv_upper", all(&|c| c.clv.map(|v| v.upper)));
    if let Some(h) = &input.holdout {
        add(
            "holdout_purchases",
            f64s(h.actual.iter().map(|&v| Some(v)).collect()),
        );
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("clv.parquet");
    let file =
        std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)?;
    w.write(&batch)?;
    w.close()?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::parse_day;

    #[test]
    fn order_dates_in_the_usual_forms() {
        let d = parse_day("1997-01-01").unwrap();
        assert_eq!(parse_day("19970101"), Some(d));
        assert_eq!(parse_day("1997-01-01T23:59:00Z"), Some(d));
        assert_eq!(parse_day("1997-01-01 08:00"), Some(d));
        assert_eq!(parse_day("Jan 1"), None);
        assert_eq!(parse_day("19971301"), None);
    }
}

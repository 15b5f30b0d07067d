//! Row layouts of the CSV files and their file-specific damage.

use rand::RngExt;

use crate::calendar::Calendar;
use crate::catalog::{
    BROWSERS, CATEGORIES, CHANNELS, CITIES, COMMENTS, COMPANY_SIZES, COUNTRIES, DEVICES, GENDERS,
    INDUSTRIES, OSES,
};
use crate::defects::{CUSTOMER_KINDS, CsvSpec, FEEDBACK_KINDS, File, Injector, Kind, ORDER_KINDS};
use crate::latent::TYPES;
use crate::model::Customer;
use crate::sim::{Feedback, Order};
use crate::write::{CsvRow, parse_money, push_csv_text, push_f64, push_id, push_int, push_money};

pub(crate) const CUSTOMERS_HEADER: &[u8] = b"CustomerID,SignupDate,Age,Gender,Country,City,CompanySize,Industry,Device,OS,Browser,EmailOptIn,SmsOptIn,LoyaltyMember\n";
pub(crate) const ORDERS_HEADER: &[u8] =
    b"OrderID,CustomerID,OrderDate,Total,Category,Channel,Items\n";
pub(crate) const FEEDBACK_HEADER: &[u8] = b"FeedbackID,CustomerID,Date,Kind,Score,Comment\n";
pub(crate) const TRUTH_HEADER: &[u8] = b"customer_id,latent_type,lambda,p,nu,alive_at_end\n";

pub(crate) const CUSTOMER_SPEC: CsvSpec = CsvSpec {
    file: File::Customers,
    kinds: CUSTOMER_KINDS,
    text_field: 5,
    value: customer_damage,
};
pub(crate) const ORDER_SPEC: CsvSpec = CsvSpec {
    file: File::Orders,
    kinds: ORDER_KINDS,
    text_field: 4,
    value: order_damage,
};
pub(crate) const FEEDBACK_SPEC: CsvSpec = CsvSpec {
    file: File::Feedback,
    kinds: FEEDBACK_KINDS,
    text_field: 5,
    value: feedback_damage,
};

fn yes_no(b: bool) -> &'static [u8] {
    if b { b"yes" } else { b"no" }
}

/// Formats the `customers.csv` row of customer `index` (0-based).
pub(crate) fn customer_row(cal: &Calendar, index: u64, c: &Customer, row: &mut CsvRow) {
    row.clear();
    push_id(&mut row.buf, b'C', index + 1, 7);
    row.end();
    cal.push_dmy(&mut row.buf, c.signup);
    row.end();
    push_int(&mut row.buf, i64::from(c.age));
    row.end();
    row.field_raw(GENDERS[usize::from(c.gender)].as_bytes());
    row.field_raw(COUNTRIES[usize::from(c.country)].as_bytes());
    push_csv_text(
        &mut row.buf,
        CITIES[usize::from(c.country)][usize::from(c.city)]
            .0
            .as_bytes(),
    );
    row.end();
    let (size, industry) = c.company.map_or(("", ""), |(s, i)| {
        (COMPANY_SIZES[usize::from(s)], INDUSTRIES[usize::from(i)])
    });
    row.field_raw(size.as_bytes());
    row.field_raw(industry.as_bytes());
    row.field_raw(DEVICES[usize::from(c.device)].as_bytes());
    row.field_raw(OSES[usize::from(c.os)].as_bytes());
    row.field_raw(BROWSERS[usize::from(c.browser)].as_bytes());
    row.field_raw(yes_no(c.email));
    row.field_raw(yes_no(c.sms));
    row.field_raw(if c.loyalty { b"true" } else { b"false" });
}

fn customer_damage(kind: Kind, row: &CsvRow, inj: &mut Injector, out: &mut Vec<u8>) -> usize {
    let year = String::from_utf8_lossy(&row.field(1)[6..]).into_owned();
    let (field, text) = match kind {
        Kind::BadDate => (
            1,
            inj.choose(&["31/02/", "30/02/", "yesterday", "00/13/"])
                .to_owned(),
        ),
        Kind::BadInt => (2, inj.choose(&["forty", "thirty-two", "sixty"]).to_owned()),
        Kind::OutOfRange => (2, inj.choose(&["230", "150", "7", "-3"]).to_owned()),
        Kind::NotInDomain => (3, inj.choose(&["unknown", "male", "divers"]).to_owned()),
        Kind::ConflictingDuplicate => {
            let age: i64 = std::str::from_utf8(row.field(2))
                .ok()
                .and_then(|a| a.parse().ok())
                .unwrap_or(40);
            let step = inj.rng.random_range(1..6i64);
            (
                2,
                if age + step <= 90 {
                    age + step
                } else {
                    age - step
                }
                .to_string(),
            )
        }
        _ => unreachable!("{kind:?} is not a customers.csv value defect"),
    };
    out.extend_from_slice(text.as_bytes());
    if text.ends_with('/') {
        out.extend_from_slice(year.as_bytes());
    }
    field
}

/// Formats an `orders.csv` row.
pub(crate) fn order_row(cal: &Calendar, id: u64, customer: u64, o: &Order, row: &mut CsvRow) {
    row.clear();
    push_id(&mut row.buf, b'O', id, 8);
    row.end();
    push_id(&mut row.buf, b'C', customer + 1, 7);
    row.end();
    cal.push_local(&mut row.buf, o.local);
    row.end();
    push_money(&mut row.buf, o.cents);
    row.end();
    row.field_raw(CATEGORIES[usize::from(o.category)].as_bytes());
    row.field_raw(CHANNELS[usize::from(o.channel)].as_bytes());
    push_int(&mut row.buf, i64::from(o.items));
    row.end();
}

fn order_damage(kind: Kind, row: &CsvRow, inj: &mut Injector, out: &mut Vec<u8>) -> usize {
    let total = row.field(3);
    let year = &row.field(2)[..4];
    match kind {
        Kind::BadMoney => {
            match inj.rng.random_range(0..3u8) {
                0 => out.extend_from_slice(&[total, b".5"].concat()),
                1 => out.extend_from_slice(b"abc"),
                _ => out.extend_from_slice(&[b"--", total].concat()),
            }
            3
        }
        Kind::NotFinite => {
            out.extend_from_slice(inj.choose(&["NaN", "inf", "-inf", "Infinity"]).as_bytes());
            3
        }
        Kind::BadTimestamp => {
            out.extend_from_slice(year);
            out.extend_from_slice(
                inj.choose(&["-13-45 10:00:00", "-02-30 12:00:00", "-06-15 25:61:00"])
                    .as_bytes(),
            );
            2
        }
        Kind::UnknownCustomer => {
            inj.unknown_customer(out);
            1
        }
        Kind::MissingValue => 2,
        Kind::NotInDomain => {
            out.extend_from_slice(inj.choose(&["fax", "telex", "pigeon"]).as_bytes());
            5
        }
        Kind::ConflictingDuplicate => {
            let cents = parse_money(total).unwrap_or(1000);
            push_money(out, cents + (cents / 10).max(100));
            3
        }
        _ => unreachable!("{kind:?} is not an orders.csv value defect"),
    }
}

/// Formats a `feedback.csv` row; `text` is scratch space for the comment.
pub(crate) fn feedback_row(
    cal: &Calendar,
    id: u64,
    customer: u64,
    f: &Feedback,
    row: &mut CsvRow,
    text: &mut Vec<u8>,
) {
    row.clear();
    push_id(&mut row.buf, b'F', id, 7);
    row.end();
    push_id(&mut row.buf, b'C', customer + 1, 7);
    row.end();
    cal.push_iso_date(&mut row.buf, f.day);
    row.end();
    row.field_raw(if f.nps { b"nps" } else { b"csat" });
    push_int(&mut row.buf, i64::from(f.score));
    row.end();
    text.clear();
    if let Some(c) = f.comment {
        let pool = COMMENTS[usize::from(c.sentiment)];
        text.extend_from_slice(pool[usize::from(c.first)].as_bytes());
        if let Some(second) = c.second {
            text.push(if c.newline { b'\n' } else { b' ' });
            text.extend_from_slice(pool[usize::from(second)].as_bytes());
            row.lines += u64::from(c.newline);
        }
    }
    push_csv_text(&mut row.buf, text);
    row.end();
}

fn feedback_damage(kind: Kind, row: &CsvRow, inj: &mut Injector, out: &mut Vec<u8>) -> usize {
    match kind {
        Kind::OutOfRange => out.extend_from_slice(inj.choose(&["11", "-1"]).as_bytes()),
        Kind::BadFloat => out.extend_from_slice(inj.choose(&["ten", "five", "eight"]).as_bytes()),
        Kind::UnknownCustomer => {
            inj.unknown_customer(out);
            return 1;
        }
        Kind::ConflictingDuplicate => {
            let (lo, hi) = if row.field(3) == b"nps" {
                (0, 10)
            } else {
                (1, 5)
            };
            let old: i64 = std::str::from_utf8(row.field(4))
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(lo);
            let step = inj.rng.random_range(1..=hi - lo);
            push_int(out, lo + (old - lo + step) % (hi - lo + 1));
        }
        _ => unreachable!("{kind:?} is not a feedback.csv value defect"),
    }
    4
}

/// Formats a `truth.csv` row.
pub(crate) fn truth_row(index: u64, c: &Customer, out: &mut Vec<u8>) {
    push_id(out, b'C', index + 1, 7);
    out.push(b',');
    out.extend_from_slice(TYPES[c.latent].name.as_bytes());
    for v in [c.lambda, c.p, c.nu] {
        out.push(b',');
        push_f64(out, v);
    }
    out.extend_from_slice(if c.death.is_none() {
        b",true\n"
    } else {
        b",false\n"
    });
}

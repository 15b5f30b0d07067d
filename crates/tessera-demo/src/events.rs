//! NDJSON event lines and their damage.

use rand::RngExt;

use crate::calendar::Calendar;
use crate::catalog::{APP_VERSIONS, CAMPAIGNS, CATEGORIES, EVENT_NAMES, PAGES, QUERIES};
use crate::defects::{Defect, EVENT_KINDS, File, Injector, Kind, Sink};
use crate::sim::{Event, Order, ev};
use crate::write::{push_id, push_int, push_json_str, push_money};

/// The raw JSON values of one event line, editable before rendering.
#[derive(Default)]
pub(crate) struct EventLine {
    id: Vec<u8>,
    user: Vec<u8>,
    ts: Vec<u8>,
    /// Empty means the key is omitted.
    name: Vec<u8>,
    props: Vec<u8>,
    /// Index of the event name in `EVENT_NAMES`.
    event: u8,
}

/// Identifies an event and where its checkout order ids start.
pub(crate) struct EventRef<'a> {
    pub id: u64,
    pub customer: u64,
    pub event: &'a Event,
    /// The chunk's orders and the global number of the chunk's first order.
    pub orders: &'a [Order],
    pub order_base: u64,
}

fn quoted(out: &mut Vec<u8>, f: impl FnOnce(&mut Vec<u8>)) {
    out.clear();
    out.push(b'"');
    f(out);
    out.push(b'"');
}

impl EventLine {
    /// Fills in the values of event `r`.
    pub(crate) fn set(&mut self, cal: &Calendar, r: &EventRef) {
        let e = r.event;
        self.event = e.name;
        quoted(&mut self.id, |o| push_id(o, b'E', r.id, 9));
        quoted(&mut self.user, |o| push_id(o, b'C', r.customer + 1, 7));
        quoted(&mut self.ts, |o| cal.push_utc(o, e.utc));
        quoted(&mut self.name, |o| {
            o.extend_from_slice(EVENT_NAMES[usize::from(e.name)].as_bytes())
        });
        let p = &mut self.props;
        p.clear();
        let prop = e.prop as usize;
        let (key, value) = match e.name {
            ev::PAGE_VIEW if prop >= 100 => {
                p.extend_from_slice(b"{\"page\":\"/c/");
                p.extend_from_slice(CATEGORIES[prop - 100].as_bytes());
                p.extend_from_slice(b"\"}");
                return;
            }
            ev::PAGE_VIEW => ("page", PAGES[prop]),
            ev::PRODUCT_VIEW => ("category", CATEGORIES[prop]),
            ev::ADD_TO_CART => {
                p.extend_from_slice(b"{\"category\":");
                push_json_str(p, CATEGORIES[prop & 0xFF]);
                p.extend_from_slice(b",\"qty\":");
                push_int(p, (prop >> 8) as i64);
                p.push(b'}');
                return;
            }
            ev::CHECKOUT => {
                p.extend_from_slice(b"{\"order_id\":\"");
                push_id(p, b'O', r.order_base + prop as u64 + 1, 8);
                p.extend_from_slice(b"\",\"value\":");
                push_money(p, r.orders[prop].cents);
                p.push(b'}');
                return;
            }
            ev::EMAIL_OPEN | ev::EMAIL_CLICK => ("campaign", CAMPAIGNS[prop].2),
            ev::APP_OPEN => ("version", APP_VERSIONS[prop]),
            _ => ("query", QUERIES[prop]),
        };
        p.extend_from_slice(b"{\"");
        p.extend_from_slice(key.as_bytes());
        p.extend_from_slice(b"\":");
        push_json_str(p, value);
        p.push(b'}');
    }

    fn render(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"event_id\":");
        out.extend_from_slice(&self.id);
        out.extend_from_slice(b",\"user\":");
        out.extend_from_slice(&self.user);
        out.extend_from_slice(b",\"ts\":");
        out.extend_from_slice(&self.ts);
        if !self.name.is_empty() {
            out.extend_from_slice(b",\"event\":");
            out.extend_from_slice(&self.name);
        }
        out.extend_from_slice(b",\"props\":");
        out.extend_from_slice(&self.props);
        out.extend_from_slice(b"}\n");
    }

    fn line(&self, sink: &mut Sink) {
        self.render(&mut sink.buf);
        sink.lines += 1;
    }

    /// Writes the line, possibly damaged, recording any defect.
    pub(crate) fn emit(
        &mut self,
        inj: Option<&mut Injector>,
        sink: &mut Sink,
        defects: &mut Vec<Defect>,
    ) {
        let Some((inj, kind)) = inj.and_then(|i| i.pick(EVENT_KINDS).map(|k| (i, k))) else {
            return self.line(sink);
        };
        match kind {
            Kind::BadJson => {
                let mut full = Vec::new();
                self.render(&mut full);
                let len = full.len() - 2;
                let mut cut = inj.rng.random_range(len as u32 / 3..len as u32) as usize;
                while full[cut] & 0xC0 == 0x80 {
                    cut -= 1;
                }
                defects.push(Defect {
                    file: File::Events,
                    line: sink.lines,
                    kind,
                });
                sink.buf.extend_from_slice(&full[..cut]);
                sink.buf.push(b'\n');
                sink.lines += 1;
                return;
            }
            Kind::BadTimestamp => {
                let year = self.ts[1..5].to_vec();
                let rest =
                    inj.choose(&["-13-45T10:00:00Z", "-02-30T12:00:00Z", "-06-15T25:61:00Z"]);
                quoted(&mut self.ts, |o| {
                    o.extend_from_slice(&year);
                    o.extend_from_slice(rest.as_bytes());
                });
            }
            Kind::UnknownCustomer => quoted(&mut self.user, |o| inj.unknown_customer(o)),
            Kind::MissingValue => {
                self.name.clear();
                if inj.rng.random_bool(0.5) {
                    self.name.extend_from_slice(b"null");
                }
            }
            Kind::ExactDuplicate => self.line(sink),
            Kind::ConflictingDuplicate => {
                self.line(sink);
                let other = (self.event + inj.rng.random_range(1..8u8)) % 8;
                quoted(&mut self.name, |o| {
                    o.extend_from_slice(EVENT_NAMES[usize::from(other)].as_bytes())
                });
            }
            _ => {
                self.name.splice(2..2, *b"\xFF\xFE");
            }
        }
        defects.push(Defect {
            file: File::Events,
            line: sink.lines,
            kind,
        });
        self.line(sink);
    }
}

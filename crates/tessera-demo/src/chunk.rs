//! A chunk of consecutive customers: simulated in parallel, then formatted
//! (in parallel, once the running ids before it are known) and written in order.

use rand::SeedableRng;

use crate::activity::events;
use crate::calendar::Calendar;
use crate::defects::{Defect, File, Injector, Sink, emit_csv};
use crate::events::{EventLine, EventRef};
use crate::model::{Customer, Rng, draw_customer};
use crate::rows::{
    CUSTOMER_SPEC, FEEDBACK_SPEC, ORDER_SPEC, customer_row, feedback_row, order_row, truth_row,
};
use crate::sim::{Event, Feedback, Order, feedback, purchases};
use crate::write::CsvRow;

/// Customers per chunk.
pub(crate) const CHUNK: u64 = 4096;

/// Settings shared by all chunks.
pub(crate) struct Ctx {
    pub seed: u64,
    pub dirty: f64,
    pub customers: u64,
    pub cal: Calendar,
}

/// The simulated (not yet formatted) data of one chunk.
pub(crate) struct Sim {
    first: u64,
    customers: Vec<Customer>,
    pub orders: Vec<Order>,
    pub events: Vec<Event>,
    pub feedback: Vec<Feedback>,
}

/// Ids used by all chunks before this one.
#[derive(Clone, Copy, Default)]
pub(crate) struct Bases {
    pub orders: u64,
    pub events: u64,
    pub feedback: u64,
}

impl Bases {
    pub(crate) fn after(self, sim: &Sim) -> Bases {
        Bases {
            orders: self.orders + sim.orders.len() as u64,
            events: self.events + sim.events.len() as u64,
            feedback: self.feedback + sim.feedback.len() as u64,
        }
    }
}

/// The formatted bytes of one chunk.
pub(crate) struct Out {
    pub customers: u64,
    /// One sink per data file, indexed by `File as usize`.
    pub sinks: [Sink; 4],
    pub truth: Vec<u8>,
    /// Defects with chunk-relative 0-based lines.
    pub defects: Vec<Defect>,
}

/// Simulates customers `first .. first + n` (0-based), each from its own stream.
pub(crate) fn simulate(ctx: &Ctx, first: u64, n: u64) -> Sim {
    let mut sim = Sim {
        first,
        customers: Vec::with_capacity(n as usize),
        orders: Vec::with_capacity(n as usize * 6),
        events: Vec::with_capacity(n as usize * 10),
        feedback: Vec::with_capacity(n as usize / 2),
    };
    for index in first..first + n {
        let mut rng = Rng::seed_from_u64(crate::mix(ctx.seed, index));
        let mut c = draw_customer(&mut rng);
        purchases(&mut rng, &ctx.cal, &mut c, &mut sim.orders);
        let start = sim.events.len() as u32;
        events(&mut rng, &ctx.cal, &c, &sim.orders, &mut sim.events);
        c.events = (start, sim.events.len() as u32);
        let start = sim.feedback.len() as u32;
        feedback(&mut rng, &c, &sim.orders, &mut sim.feedback);
        c.feedback = (start, sim.feedback.len() as u32);
        sim.customers.push(c);
    }
    sim
}

fn sink(capacity: usize) -> Sink {
    Sink {
        buf: Vec::with_capacity(capacity),
        lines: 0,
    }
}

/// Formats a simulated chunk whose first ids follow `bases`.
pub(crate) fn format(ctx: &Ctx, sim: &Sim, bases: Bases) -> Out {
    let n = sim.customers.len();
    let mut sinks = [
        sink(n * 120),
        sink(sim.events.len() * 140),
        sink(sim.feedback.len() * 100),
        sink(sim.orders.len() * 72),
    ];
    let mut truth = Vec::with_capacity(n * 64);
    let mut defects = Vec::new();
    let (mut row, mut text, mut line) = (CsvRow::default(), Vec::new(), EventLine::default());
    for (k, c) in sim.customers.iter().enumerate() {
        let index = sim.first + k as u64;
        let mut inj =
            (ctx.dirty > 0.0).then(|| Injector::new(ctx.seed, index, ctx.dirty, ctx.customers));
        customer_row(&ctx.cal, index, c, &mut row);
        let s = &mut sinks[File::Customers as usize];
        emit_csv(&CUSTOMER_SPEC, inj.as_mut(), &mut row, s, &mut defects);
        truth_row(index, c, &mut truth);
        for i in c.orders.0..c.orders.1 {
            let o = &sim.orders[i as usize];
            order_row(
                &ctx.cal,
                bases.orders + u64::from(i) + 1,
                index,
                o,
                &mut row,
            );
            let inj = if o.refund { None } else { inj.as_mut() };
            emit_csv(
                &ORDER_SPEC,
                inj,
                &mut row,
                &mut sinks[File::Orders as usize],
                &mut defects,
            );
        }
        for i in c.events.0..c.events.1 {
            let event = &sim.events[i as usize];
            let id = bases.events + u64::from(i) + 1;
            let orders = &sim.orders;
            line.set(
                &ctx.cal,
                &EventRef {
                    id,
                    customer: index,
                    event,
                    orders,
                    order_base: bases.orders,
                },
            );
            line.emit(
                inj.as_mut(),
                &mut sinks[File::Events as usize],
                &mut defects,
            );
        }
        for i in c.feedback.0..c.feedback.1 {
            let f = &sim.feedback[i as usize];
            feedback_row(
                &ctx.cal,
                bases.feedback + u64::from(i) + 1,
                index,
                f,
                &mut row,
                &mut text,
            );
            let s = &mut sinks[File::Feedback as usize];
            emit_csv(&FEEDBACK_SPEC, inj.as_mut(), &mut row, s, &mut defects);
        }
    }
    Out {
        customers: n as u64,
        sinks,
        truth,
        defects,
    }
}

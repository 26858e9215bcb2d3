//! Memory stays flat while a flow integrates: after warm-up, thousands of RK4 steps of the
//! adapted (Cholesky) and standard (backprop) fields leave the live heap exactly where it was.
//! The workspace allocates nothing per step; what allocations remain are matrixmultiply's packing
//! buffers, taken and returned inside each product (counted and printed here).

use pullback::math::fast::Solver;
use pullback::math::flow::FlowSpec;
use pullback::math::integrate::{IntegratorSpec, Stepper, System};
use pullback::run::scenario::Scenario;
use pullback::run::session::FlowField;
use std::alloc::{GlobalAlloc, Layout, System as SysAlloc};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

struct Counting;
static LIVE: AtomicI64 = AtomicI64::new(0);
static COUNT: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as i64, Ordering::SeqCst);
        COUNT.fetch_add(1, Ordering::SeqCst);
        SysAlloc.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as i64, Ordering::SeqCst);
        SysAlloc.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as i64 - l.size() as i64, Ordering::SeqCst);
        COUNT.fetch_add(1, Ordering::SeqCst);
        SysAlloc.realloc(p, l, n)
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn the_heap_stays_flat_over_thousands_of_steps() {
    pullback::linalg::kernels::set_threads(1);
    let m = Scenario::from_json(
        r#"{"seed": 1, "data": {"kind": "moons", "n": 50, "noise": 0.1},
            "net": {"widths": [2, 16, 16, 2], "activation": "tanh"}}"#,
    )
    .unwrap()
    .materialize()
    .unwrap();
    for spec in [FlowSpec::Adapted, FlowSpec::Standard] {
        let mut field = FlowField::with_solver(m.model.clone(), spec, 1e-10, Solver::Auto);
        let mut st =
            Stepper::new(IntegratorSpec::Rk4 { h: 1e-3 }, 0.0, &m.theta0, &mut field).unwrap();
        for _ in 0..20 {
            st.step(&mut field, f64::INFINITY).unwrap();
            field.accept();
        }
        let live = LIVE.load(Ordering::SeqCst);
        let count = COUNT.load(Ordering::SeqCst);
        let steps = 3000;
        for _ in 0..steps {
            st.step(&mut field, f64::INFINITY).unwrap();
            field.accept();
        }
        let grown = LIVE.load(Ordering::SeqCst) - live;
        let per_step = (COUNT.load(Ordering::SeqCst) - count) as f64 / steps as f64;
        eprintln!(
            "{}: live heap grew by {grown} bytes over {steps} steps; {per_step:.1} allocations per step (matrixmultiply packing), {} evaluations",
            spec.label(),
            st.stats.evals
        );
        assert_eq!(grown, 0, "{}: the heap grew", spec.label());
        assert_eq!(field.dim(), m.model.k());
        let counts = field.path_counts();
        assert_eq!(counts.fallbacks, 0, "{counts:?}");
    }
}

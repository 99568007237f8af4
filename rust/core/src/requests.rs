//! The pool's outstanding requests: where the answer to each goes, and when it times out.
//!
//! Every file makes a few requests (its locations and its copy request on the source, the
//! transfer on the target), and each is registered and taken out again when answered, so
//! both must be cheap; a request rarely times out. A request's deadline is kept here beside
//! its route, not as a keyed timer (`timers.rs`): tokens are never reused and a request's
//! deadline never moves, so an entry of the deadline queue is live exactly while its token
//! is outstanding. Answering a request is one removal from one map, where a keyed timer took
//! three (the route, the key's arming and the arming's key).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap;

use crate::Millis;
use crate::effect::Token;
use crate::timers::drop_dead;

/// The outstanding requests, each with where its answer goes: a `Route` (`context.rs`).
#[derive(Debug)]
pub struct Outstanding<Route> {
    routes: FxHashMap<Token, Route>,
    /// (deadline, token) of the requests that time out, earliest first and in the order the
    /// requests were made among equal deadlines, with answered ones left in. Kept so that the
    /// top, if any, is outstanding, and at most about twice as long as `routes`.
    deadlines: BinaryHeap<Reverse<(Millis, Token)>>,
    next_token: u64,
}

impl<Route> Default for Outstanding<Route> {
    fn default() -> Self {
        Outstanding { routes: FxHashMap::default(), deadlines: BinaryHeap::new(), next_token: 1 }
    }
}

impl<Route: Copy> Outstanding<Route> {
    /// Registers a request whose answer goes to `route`; it times out at `deadline`, if any.
    pub fn register(&mut self, route: Route, deadline: Option<Millis>) -> Token {
        let token = Token(self.next_token);
        self.next_token += 1;
        self.routes.insert(token, route);
        if let Some(at) = deadline {
            self.deadlines.push(Reverse((at, token)));
        }
        token
    }

    /// The route of an answered request, which is no longer outstanding; `None` if it timed
    /// out or was never made.
    pub fn take(&mut self, token: Token) -> Option<Route> {
        let route = self.routes.remove(&token)?;
        self.forget_answered();
        Some(route)
    }

    /// Where the answer to `token` will go.
    pub fn route(&self, token: Token) -> Option<Route> {
        self.routes.get(&token).copied()
    }

    /// The earliest deadline of an outstanding request.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.deadlines.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes a request whose deadline is due at `now`, earliest first, and returns its route.
    pub fn pop_due(&mut self, now: Millis) -> Option<Route> {
        let &Reverse((at, token)) = self.deadlines.peek()?;
        if at > now {
            return None;
        }
        self.deadlines.pop();
        let route = self.routes.remove(&token).expect("the queue's top is outstanding");
        self.forget_answered();
        Some(route)
    }

    /// Restores the deadline queue's promises after a request left: its top is outstanding,
    /// and the entries of answered requests do not pile up.
    fn forget_answered(&mut self) {
        let routes = &self.routes;
        drop_dead(&mut self.deadlines, routes.len(), |token| routes.contains_key(token));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A route as the tests see it: any value that tells requests apart.
    type Route = u64;

    fn route(n: u64) -> Route {
        n
    }

    #[test]
    fn requests_time_out_in_deadline_order_unless_answered() {
        let mut r = Outstanding::default();
        let late = r.register(route(1), Some(30));
        let answered = r.register(route(2), Some(10));
        let untimed = r.register(route(3), None);
        let early = r.register(route(4), Some(20));
        let tied = r.register(route(5), Some(20));
        assert_eq!(r.take(answered), Some(route(2)));
        assert_eq!(r.take(answered), None, "an answered request is gone");
        assert_eq!(r.next_deadline(), Some(20));
        assert_eq!(r.pop_due(19), None);
        assert_eq!(r.pop_due(25), Some(route(4)), "{early:?} was made before {tied:?}");
        assert_eq!(r.pop_due(25), Some(route(5)));
        assert_eq!(r.pop_due(25), None);
        assert_eq!(r.take(late), Some(route(1)));
        assert_eq!(r.next_deadline(), None, "only the untimed request is left");
        assert_eq!(r.route(untimed), Some(route(3)));
        assert_eq!(r.routes.len(), 1);
        assert_eq!(r.take(untimed), Some(route(3)));
        assert!(r.routes.is_empty());
    }

    #[test]
    fn answered_requests_do_not_pile_up_in_the_deadline_queue() {
        let mut r = Outstanding::default();
        let first = r.register(route(0), Some(1_000_000));
        for i in 0..100_000 {
            let token = r.register(route(1), Some(i + 1_000));
            assert_eq!(r.take(token), Some(route(1)));
        }
        assert!(
            r.deadlines.len() <= 2 * r.routes.len() + crate::timers::SLACK,
            "{} entries for {} requests",
            r.deadlines.len(),
            r.routes.len()
        );
        assert_eq!(r.next_deadline(), Some(1_000_000));
        assert_eq!(r.pop_due(i64::MAX), Some(route(0)));
        assert_eq!(r.take(first), None, "a request that timed out cannot be answered");
        assert_eq!(r.next_deadline(), None);
    }

    #[test]
    fn a_request_answered_while_others_wait_leaves_the_earliest_on_top() {
        let mut r = Outstanding::default();
        let tokens: Vec<Token> = (0..10).map(|i| r.register(route(i), Some(100 + i as Millis))).collect();
        // The five earliest are answered, earliest first: each time the next comes to the top.
        for (i, token) in tokens.iter().enumerate().take(5) {
            assert_eq!(r.take(*token), Some(route(i as u64)));
            assert_eq!(r.next_deadline(), Some(101 + i as Millis));
        }
        let fired: Vec<Route> = std::iter::from_fn(|| r.pop_due(1_000)).collect();
        assert_eq!(fired, (5..10).map(route).collect::<Vec<_>>());
    }

    /// What the requests must do, written the obvious way: (token, deadline, route) of each
    /// outstanding request, in the order they were made.
    #[derive(Default)]
    struct Model {
        outstanding: Vec<(Token, Option<Millis>, Route)>,
    }

    impl Model {
        fn take(&mut self, token: Token) -> Option<Route> {
            let i = self.outstanding.iter().position(|(t, _, _)| *t == token)?;
            Some(self.outstanding.remove(i).2)
        }
        fn next_deadline(&self) -> Option<Millis> {
            self.outstanding.iter().filter_map(|(_, at, _)| *at).min()
        }
        fn pop_due(&mut self, now: Millis) -> Option<Route> {
            let due = self.outstanding.iter().filter(|(_, at, _)| at.is_some_and(|at| at <= now));
            let (token, _, _) = *due.min_by_key(|(token, at, _)| (*at, *token))?;
            self.take(token)
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Register(Option<Millis>),
        Answer(u64),
        Pop(Millis),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            proptest::option::of(0..50 as Millis).prop_map(Op::Register),
            (1..40u64).prop_map(Op::Answer),
            (0..60 as Millis).prop_map(Op::Pop),
        ]
    }

    proptest::proptest! {
        #[test]
        fn requests_behave_like_a_list_of_outstanding_ones(ops in proptest::collection::vec(op(), 0..400)) {
            let mut r = Outstanding::default();
            let mut m = Model::default();
            for op in ops {
                match op {
                    Op::Register(deadline) => {
                        let route = route(r.next_token);
                        let token = r.register(route, deadline);
                        m.outstanding.push((token, deadline, route));
                    }
                    Op::Answer(token) => proptest::prop_assert_eq!(r.take(Token(token)), m.take(Token(token))),
                    Op::Pop(now) => proptest::prop_assert_eq!(r.pop_due(now), m.pop_due(now)),
                }
                proptest::prop_assert_eq!(r.next_deadline(), m.next_deadline());
                proptest::prop_assert_eq!(r.routes.len(), m.outstanding.len());
            }
        }
    }
}

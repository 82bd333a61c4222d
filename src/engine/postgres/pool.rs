//! A small connection pool: a bounded set of connections, handed out one per transaction, with
//! a checkout deadline (a thread that holds every connection and asks for one more gets an
//! error, never a hang) and broken connections replaced by new ones.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use postgres::{Client, Statement};

use super::connect::Connector;
use super::error::PgResultExt;
use super::socket::Socket;
use crate::error::{Error, Result};

/// A connection and what it has prepared.
pub(crate) struct Conn {
    // Declared (so dropped) before `socket`, which keeps the socket open until it drops too.
    pub(crate) client: Client,
    /// Our own descriptor of the connection's socket, when it was found: the commit deadline
    /// shuts it down if the server stops answering ([`super::deadline`]).
    socket: Option<Arc<Socket>>,
    statements: HashMap<String, Statement>,
    /// Set by the server's WARNING notices (the cancelled wait for synchronous replication is
    /// one), cleared before each commit.
    warned: Arc<AtomicBool>,
}

impl Conn {
    /// The prepared statement for `sql`, prepared on first use on this connection.
    pub(crate) fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).pg()?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// The connection's socket, when known, for the commit deadline to cut.
    pub(crate) fn socket(&self) -> Option<Arc<Socket>> {
        self.socket.clone()
    }

    /// Forgets whether the server warned, before a statement whose warnings matter.
    pub(crate) fn clear_warning(&self) {
        self.warned.store(false, Ordering::SeqCst);
    }

    /// Whether the server warned since [`clear_warning`](Self::clear_warning).
    pub(crate) fn warned(&self) -> bool {
        self.warned.load(Ordering::SeqCst)
    }
}

pub(crate) struct Pool {
    connector: Connector,
    size: usize,
    checkout: Duration,
    state: Mutex<State>,
    returned: Condvar,
}

struct State {
    idle: Vec<Conn>,
    /// Connections out of the pool or being opened.
    busy: usize,
}

impl Pool {
    pub(crate) fn new(connector: Connector, size: usize, checkout: Duration) -> Pool {
        Pool {
            connector,
            size: size.max(1),
            checkout,
            state: Mutex::new(State {
                idle: Vec::new(),
                busy: 0,
            }),
            returned: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection for the caller's exclusive use until the guard drops.
    pub(crate) fn get(self: &Arc<Self>) -> Result<Pooled> {
        let deadline = Instant::now() + self.checkout;
        let mut state = self.lock();
        loop {
            if let Some(conn) = state.idle.pop() {
                if conn.client.is_closed() {
                    // Closed by the server or the network: dropped, its place is free again.
                    continue;
                }
                state.busy += 1;
                return Ok(Pooled::new(Arc::clone(self), conn));
            }
            if state.busy < self.size {
                state.busy += 1;
                drop(state);
                return match self.connect() {
                    Ok(conn) => Ok(Pooled::new(Arc::clone(self), conn)),
                    Err(e) => {
                        self.release_slot();
                        Err(e)
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::precondition(format!(
                    "no database connection free within {:?}: all {} are in use (a thread \
                     holding every connection cannot take another)",
                    self.checkout, self.size
                )));
            }
            state = self
                .returned
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// A new connection ([`Connector::open`]: each host in turn, each attempt bounded by
    /// `connect_timeout`), its session set up and its socket found.
    fn connect(&self) -> Result<Conn> {
        let warned = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&warned);
        let opened = self.connector.open(move |notice| {
            if notice.severity() == "WARNING" {
                flag.store(true, Ordering::SeqCst);
            }
        })?;
        Ok(Conn {
            client: opened.client,
            socket: opened.socket.map(Arc::new),
            statements: HashMap::new(),
            warned,
        })
    }

    fn release_slot(&self) {
        self.lock().busy -= 1;
        self.returned.notify_one();
    }

    fn put_back(&self, conn: Conn) {
        let mut state = self.lock();
        state.busy -= 1;
        state.idle.push(conn);
        drop(state);
        self.returned.notify_one();
    }
}

/// A connection out of the pool; back in it when dropped, unless it broke.
pub(crate) struct Pooled {
    pool: Arc<Pool>,
    conn: Option<Conn>,
    /// Whether the connection's state is unknown (a failed rollback): then it is closed, not
    /// reused.
    spoiled: bool,
}

impl Pooled {
    fn new(pool: Arc<Pool>, conn: Conn) -> Pooled {
        Pooled {
            pool,
            conn: Some(conn),
            spoiled: false,
        }
    }

    /// Marks the connection as not reusable (it is closed when the guard drops).
    pub(crate) fn spoil(&mut self) {
        self.spoiled = true;
    }
}

impl std::ops::Deref for Pooled {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        // Present until drop.
        self.conn
            .as_ref()
            .unwrap_or_else(|| unreachable!("pooled connection used after drop"))
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .unwrap_or_else(|| unreachable!("pooled connection used after drop"))
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        match self.conn.take() {
            Some(conn) if !self.spoiled && !conn.client.is_closed() => self.pool.put_back(conn),
            _ => self.pool.release_slot(),
        }
    }
}

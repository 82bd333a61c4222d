//! Opening a connection. The client library's `connect_timeout` bounds each TCP connect, not
//! the start-up that follows it (the SSL request, authentication, `target_session_attrs`'
//! check): a host that accepts the connection and then does not answer (a frozen server, or
//! one behind a partition that still acknowledges TCP) held up the connect, and with it the
//! opening of the store and every new pool connection, however many other hosts the URL named.
//!
//! So, as libpq does, the hosts are tried one at a time, in the URL's order (shuffled under
//! `load_balance_hosts=random`, as are a name's addresses), each address of a host name with a
//! connect of its own, and each such attempt is bounded as a whole by `connect_timeout`
//! ([`DEFAULT_CONNECT_TIMEOUT`] when the URL gives none, or `0`, which the client library does
//! not tell apart): the start-up, the session set-up and the look-up of the socket
//! ([`super::socket`]) included. A host name is resolved before its attempts, as libpq does,
//! so a resolver that hangs is not bounded. Each attempt has the URL's settings (user, database,
//! `sslmode` and TLS, `target_session_attrs`, keepalives, …) and one host: its name (for TLS),
//! its address (`hostaddr`, given or resolved) and its port. The first that succeeds is the
//! connection; if none does, the error names each host's failure.
//!
//! An attempt runs on a thread of its own, left behind when its time is up, since nothing can
//! interrupt it (its socket is not known before the start-up ends). What it returns later is
//! dropped, never pooled. While an abandoned attempt to an address still runs, later attempts
//! skip that address at once: its server has not finished one start-up yet, and at most one
//! thread per address (and store) is left waiting for it.

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use postgres::config::{Host, LoadBalanceHosts};
use postgres::error::DbError;
use postgres::{Client, Config};

use super::error::pg_error;
use super::socket::{self, Socket};
use super::tls::Tls;
use crate::error::{Error, Result, StorageError};

/// The bound of one connection attempt when the URL sets no `connect_timeout`: long enough for
/// a server on another continent with TLS and SCRAM (a few round trips), short enough that a
/// store whose first host hangs moves on to the next within seconds.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// PostgreSQL's port, when the URL names none.
const DEFAULT_PORT: u16 = 5432;

/// Opens connections to the hosts of one connection string.
pub(crate) struct Connector {
    config: Config,
    tls: Tls,
    timeout: Duration,
    /// Runs once on every new connection (session settings).
    setup: String,
    /// Addresses with attempts that were given up and still run, and how many.
    abandoned: Arc<Mutex<HashMap<String, usize>>>,
}

/// A new connection, and its socket when found.
pub(crate) struct Opened {
    pub(crate) client: Client,
    pub(crate) socket: Option<Socket>,
}

/// One address to try.
#[derive(Clone, Debug, PartialEq)]
struct Target {
    /// The host as the URL names it (a name for TLS, or a Unix socket folder).
    host: Option<Host>,
    /// The address to connect to (given as `hostaddr`, or resolved from the name).
    hostaddr: Option<IpAddr>,
    port: u16,
}

impl Target {
    /// How the address is shown (in errors) and known (for abandoned attempts).
    fn shown(&self) -> String {
        match (&self.host, self.hostaddr) {
            (_, Some(IpAddr::V6(ip))) => format!("[{ip}]:{}", self.port),
            (_, Some(ip)) => format!("{ip}:{}", self.port),
            (Some(Host::Tcp(name)), None) => format!("{name}:{}", self.port),
            #[cfg(unix)]
            (Some(Host::Unix(dir)), None) => format!("{}/.s.PGSQL.{}", dir.display(), self.port),
            (None, None) => format!("?:{}", self.port),
        }
    }
}

/// Why one attempt failed.
enum Failure {
    /// The client library's error (refused, authentication, not writable, …).
    Client(postgres::Error),
    /// Ours: the attempt outlived `connect_timeout`, was skipped, or could not start.
    Other(String),
}

/// Where an attempt's thread and its caller meet.
enum Slot {
    Running,
    Done(Box<std::result::Result<Opened, postgres::Error>>),
    /// The caller gave up: the thread drops what it gets.
    Abandoned,
    /// The thread ended without a result.
    Panicked,
}

/// What an attempt's thread hands over when it ends, by dropping this (also if the client
/// library panics, so an address is never left counted as abandoned).
struct Outcome {
    slot: Arc<(Mutex<Slot>, Condvar)>,
    abandoned: Arc<Mutex<HashMap<String, usize>>>,
    key: String,
    opened: Option<std::result::Result<Opened, postgres::Error>>,
}

impl Drop for Outcome {
    fn drop(&mut self) {
        let (lock, done) = &*self.slot;
        let mut state = lock.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(*state, Slot::Abandoned) {
            drop(state);
            // Too late: the connection (if any) is closed here, never pooled.
            self.opened = None;
            let mut abandoned = self
                .abandoned
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(n) = abandoned.get_mut(&self.key) {
                *n -= 1;
                if *n == 0 {
                    abandoned.remove(&self.key);
                }
            }
        } else {
            *state = match self.opened.take() {
                Some(opened) => Slot::Done(Box::new(opened)),
                None => Slot::Panicked,
            };
            done.notify_all();
        }
    }
}

impl Connector {
    /// Checks the hosts, ports and host addresses of `config` the way the client library does.
    pub(crate) fn new(config: Config, tls: Tls, setup: String) -> Result<Connector> {
        let (hosts, addrs, ports) = (
            config.get_hosts().len(),
            config.get_hostaddrs().len(),
            config.get_ports().len(),
        );
        let bad = |why: String| Err(Error::precondition(format!("bad connection string: {why}")));
        if hosts == 0 && addrs == 0 {
            return bad("no host and no hostaddr".to_owned());
        }
        if hosts != 0 && addrs != 0 && hosts != addrs {
            return bad(format!("{hosts} hosts but {addrs} hostaddrs"));
        }
        if ports > 1 && ports != hosts.max(addrs) {
            return bad(format!("{} hosts but {ports} ports", hosts.max(addrs)));
        }
        let timeout = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        Ok(Connector {
            config,
            tls,
            timeout,
            setup,
            abandoned: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// Opens a connection whose notices go to `notice`: the first host (address) that accepts
    /// it within `connect_timeout`, trying them in order.
    pub(crate) fn open(
        &self,
        notice: impl Fn(DbError) + Clone + Send + Sync + 'static,
    ) -> Result<Opened> {
        let mut failures = Vec::new();
        let mut last_error = None;
        let mut tried = 0;
        for host in self.hosts() {
            let targets = match self.targets(host) {
                Ok(t) => t,
                Err(why) => {
                    failures.push(why);
                    continue;
                }
            };
            for target in targets {
                tried += 1;
                match self.attempt(&target, notice.clone()) {
                    Ok(opened) => return Ok(opened),
                    Err(Failure::Client(e)) => {
                        failures.push(format!("{}: {}", target.shown(), chain(&e)));
                        last_error = Some(e);
                    }
                    Err(Failure::Other(why)) => {
                        failures.push(format!("{}: {why}", target.shown()));
                        last_error = None;
                    }
                }
            }
        }
        match last_error {
            // One address that the client library refused: its error, as it always was.
            Some(e) if tried == 1 && failures.len() == 1 => Err(pg_error(e)),
            source => Err(Error::Storage(StorageError::new(
                format!("could not connect to the database: {}", failures.join("; ")),
                source.map(|e| Box::new(e) as _),
            ))),
        }
    }

    /// The indices of the hosts, in the order they are tried.
    fn hosts(&self) -> Vec<usize> {
        let n = self
            .config
            .get_hosts()
            .len()
            .max(self.config.get_hostaddrs().len());
        let mut order: Vec<usize> = (0..n).collect();
        if self.config.get_load_balance_hosts() == LoadBalanceHosts::Random {
            shuffle(&mut order);
        }
        order
    }

    /// The addresses of host `i`: its `hostaddr`, the addresses its name resolves to, or its
    /// Unix socket folder.
    fn targets(&self, i: usize) -> std::result::Result<Vec<Target>, String> {
        let host = self.config.get_hosts().get(i).cloned();
        let hostaddr = self.config.get_hostaddrs().get(i).copied();
        let ports = self.config.get_ports();
        let port = ports
            .get(i)
            .or_else(|| ports.first())
            .copied()
            .unwrap_or(DEFAULT_PORT);
        if hostaddr.is_some() {
            return Ok(vec![Target {
                host,
                hostaddr,
                port,
            }]);
        }
        match host {
            Some(Host::Tcp(name)) => {
                let mut addrs: Vec<IpAddr> = (name.as_str(), port)
                    .to_socket_addrs()
                    .map_err(|e| format!("{name}:{port}: could not resolve the name: {e}"))?
                    .map(|a| a.ip())
                    .collect();
                if addrs.is_empty() {
                    return Err(format!("{name}:{port}: the name resolves to no address"));
                }
                if self.config.get_load_balance_hosts() == LoadBalanceHosts::Random {
                    shuffle(&mut addrs);
                }
                Ok(addrs
                    .into_iter()
                    .map(|ip| Target {
                        host: Some(Host::Tcp(name.clone())),
                        hostaddr: Some(ip),
                        port,
                    })
                    .collect())
            }
            other => Ok(vec![Target {
                host: other,
                hostaddr: None,
                port,
            }]),
        }
    }

    /// The connection string's settings, with `target` as its only host.
    fn single(&self, target: &Target) -> Config {
        let all = &self.config;
        let mut one = Config::new();
        if let Some(user) = all.get_user() {
            one.user(user);
        }
        if let Some(password) = all.get_password() {
            one.password(password);
        }
        if let Some(dbname) = all.get_dbname() {
            one.dbname(dbname);
        }
        if let Some(options) = all.get_options() {
            one.options(options);
        }
        if let Some(name) = all.get_application_name() {
            one.application_name(name);
        }
        one.ssl_mode(all.get_ssl_mode())
            .ssl_negotiation(all.get_ssl_negotiation());
        match &target.host {
            Some(Host::Tcp(name)) => {
                one.host(name);
            }
            #[cfg(unix)]
            Some(Host::Unix(dir)) => {
                one.host_path(dir);
            }
            None => {}
        }
        if let Some(ip) = target.hostaddr {
            one.hostaddr(ip);
        }
        one.port(target.port);
        // Also bounds the TCP connect of this connection's cancel requests.
        one.connect_timeout(self.timeout);
        if let Some(timeout) = all.get_tcp_user_timeout() {
            one.tcp_user_timeout(*timeout);
        }
        one.keepalives(all.get_keepalives())
            .keepalives_idle(all.get_keepalives_idle());
        if let Some(interval) = all.get_keepalives_interval() {
            one.keepalives_interval(interval);
        }
        if let Some(retries) = all.get_keepalives_retries() {
            one.keepalives_retries(retries);
        }
        one.target_session_attrs(all.get_target_session_attrs())
            .channel_binding(all.get_channel_binding())
            .load_balance_hosts(all.get_load_balance_hosts());
        one
    }

    /// One attempt, bounded as a whole by `connect_timeout`.
    fn attempt(
        &self,
        target: &Target,
        notice: impl Fn(DbError) + Send + Sync + 'static,
    ) -> std::result::Result<Opened, Failure> {
        let key = target.shown();
        if self.abandoned_lock().get(&key).is_some_and(|n| *n > 0) {
            return Err(Failure::Other(format!(
                "skipped: an earlier attempt to connect to it has not ended, though it began \
                 more than connect_timeout ({:?}) ago",
                self.timeout
            )));
        }
        let mut config = self.single(target);
        config.notice_callback(notice);
        let slot = Arc::new((Mutex::new(Slot::Running), Condvar::new()));
        let spawned = {
            let (tls, setup) = (self.tls.clone(), self.setup.clone());
            let outcome = Outcome {
                slot: Arc::clone(&slot),
                abandoned: Arc::clone(&self.abandoned),
                key: key.clone(),
                opened: None,
            };
            std::thread::Builder::new()
                .name("orgstore-connect".into())
                .spawn(move || {
                    // The whole guard moves in (a closure would capture only the field).
                    let mut outcome = outcome;
                    outcome.opened = Some(open_one(&config, &tls, &setup));
                    // `outcome` drops here and hands the connection over (or drops it).
                })
        };
        if let Err(e) = spawned {
            return Err(Failure::Other(format!(
                "no thread for the connection attempt: {e}"
            )));
        }
        let (lock, done) = &*slot;
        let until = Instant::now() + self.timeout;
        let mut state = lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            match std::mem::replace(&mut *state, Slot::Running) {
                Slot::Done(opened) => return (*opened).map_err(Failure::Client),
                Slot::Panicked => {
                    return Err(Failure::Other("the connection attempt panicked".to_owned()))
                }
                Slot::Running | Slot::Abandoned => {}
            }
            let now = Instant::now();
            if now >= until {
                // Under the slot's lock: the thread then sees it and counts itself out.
                *state = Slot::Abandoned;
                *self.abandoned_lock().entry(key).or_insert(0) += 1;
                return Err(Failure::Other(format!(
                    "no connection within connect_timeout ({:?}): the server accepted the \
                     connection but did not answer, or did not accept it",
                    self.timeout
                )));
            }
            state = done
                .wait_timeout(state, until - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn abandoned_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.abandoned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Connects to one address, runs the session set-up and finds the socket.
fn open_one(
    config: &Config,
    tls: &Tls,
    setup: &str,
) -> std::result::Result<Opened, postgres::Error> {
    let mut client = tls.connect(config)?;
    if !setup.is_empty() {
        client.batch_execute(setup)?;
    }
    let socket = socket::locate(&mut client);
    Ok(Opened { client, socket })
}

/// An error with its causes (the client library's own text names only the kind).
fn chain(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Shuffles `items` (Fisher–Yates, on the random bits of fresh ULIDs).
fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = (ulid::Ulid::new().random() % (i as u128 + 1)) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postgres::config::{ChannelBinding, SslMode, TargetSessionAttrs};

    fn connector(url: &str) -> Connector {
        let config: Config = url.parse().expect("a connection string");
        Connector::new(config, Tls::Plain, String::new()).expect("a connector")
    }

    #[test]
    fn each_host_is_tried_alone_with_every_other_setting() {
        let c = connector(
            "postgres://u:pw@127.0.0.1:5433,[::1]:5434,%2Frun%2Fpg/tenants?options=-c%20a%3D1&\
             application_name=app&sslmode=require&connect_timeout=3&tcp_user_timeout=4&\
             keepalives=0&keepalives_idle=5&keepalives_interval=6&keepalives_retries=7&\
             target_session_attrs=read-write&channel_binding=disable",
        );
        assert_eq!(c.timeout, Duration::from_secs(3));
        let targets: Vec<Target> = c
            .hosts()
            .into_iter()
            .flat_map(|i| c.targets(i).expect("targets"))
            .collect();
        let shown: Vec<String> = targets.iter().map(Target::shown).collect();
        assert_eq!(shown[0], "127.0.0.1:5433");
        assert_eq!(shown[1], "[::1]:5434");
        assert_eq!(targets.len(), 3, "{shown:?}");
        for (target, port) in targets.iter().zip([5433, 5434, 5432]) {
            let one = c.single(target);
            assert_eq!(one.get_hosts().len(), 1);
            assert_eq!(one.get_ports(), &[port][..]);
            assert_eq!(
                one.get_hostaddrs().len(),
                usize::from(target.hostaddr.is_some())
            );
            assert_eq!(one.get_user(), Some("u"));
            assert_eq!(one.get_password(), Some(&b"pw"[..]));
            assert_eq!(one.get_dbname(), Some("tenants"));
            assert_eq!(one.get_options(), Some("-c a=1"));
            assert_eq!(one.get_application_name(), Some("app"));
            assert_eq!(one.get_ssl_mode(), SslMode::Require);
            assert_eq!(one.get_connect_timeout(), Some(&Duration::from_secs(3)));
            assert_eq!(one.get_tcp_user_timeout(), Some(&Duration::from_secs(4)));
            assert!(!one.get_keepalives());
            assert_eq!(one.get_keepalives_idle(), Duration::from_secs(5));
            assert_eq!(one.get_keepalives_interval(), Some(Duration::from_secs(6)));
            assert_eq!(one.get_keepalives_retries(), Some(7));
            assert_eq!(
                one.get_target_session_attrs(),
                TargetSessionAttrs::ReadWrite
            );
            assert_eq!(one.get_channel_binding(), ChannelBinding::Disable);
        }
        // The host's own name stays for TLS; the address is what is connected to.
        let one = c.single(&targets[0]);
        assert_eq!(one.get_hosts(), &[Host::Tcp("127.0.0.1".into())][..]);
        assert_eq!(one.get_hostaddrs(), &[IpAddr::from([127, 0, 0, 1])][..]);
        #[cfg(unix)]
        assert_eq!(
            c.single(&targets[2]).get_hosts(),
            &[Host::Unix("/run/pg".into())][..]
        );
    }

    #[test]
    fn hostaddr_is_used_without_resolving_the_name() {
        let c = connector("host=db.invalid hostaddr=10.0.0.7 port=6000 user=u");
        let targets = c.targets(0).expect("no resolution needed");
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].shown(), "10.0.0.7:6000");
        let one = c.single(&targets[0]);
        assert_eq!(one.get_hosts(), &[Host::Tcp("db.invalid".into())][..]);
        assert_eq!(
            c.timeout, DEFAULT_CONNECT_TIMEOUT,
            "no connect_timeout given"
        );
    }

    #[test]
    fn bad_host_lists_are_refused() {
        for url in [
            "host=a,b port=1,2,3 user=u",
            "host=a,b hostaddr=10.0.0.1 user=u",
            "user=u",
        ] {
            let config: Config = url.parse().expect("parses");
            assert!(
                matches!(
                    Connector::new(config, Tls::Plain, String::new()),
                    Err(Error::FailedPrecondition { .. })
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn a_refused_connection_is_the_client_error_and_a_list_names_each_host() {
        // A port nothing listens on: bind one, then close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a port")
            .port();
        let one = connector(&format!(
            "postgres://u@127.0.0.1:{port}/db?connect_timeout=2"
        ));
        let err = one.open(|_| {}).err().expect("refused");
        assert!(matches!(err, Error::Storage(_)), "{err:?}");
        let two = connector(&format!(
            "postgres://u@127.0.0.1:{port},127.0.0.1:{port}/db?connect_timeout=2"
        ));
        let text = match two.open(|_| {}).err().expect("refused") {
            Error::Storage(e) => e.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            text.matches(&format!("127.0.0.1:{port}: ")).count(),
            2,
            "{text}"
        );
    }

    /// The text of a storage error (the message is the inner error's).
    fn storage_text(result: Result<Opened>) -> String {
        match result.err().expect("no connection") {
            Error::Storage(e) => e.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_server_that_does_not_answer_is_given_up_then_skipped_until_the_attempt_ends() {
        // Accepted by the kernel, never answered: the start-up waits for a reply.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let c = connector(&format!(
            "postgres://u@127.0.0.1:{port}/db?sslmode=disable&connect_timeout=1"
        ));
        let began = Instant::now();
        let text = storage_text(c.open(|_| {}));
        let took = began.elapsed();
        assert!(text.contains("within connect_timeout"), "{text}");
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_secs(3),
            "{took:?}"
        );

        // While that attempt still waits, the address is skipped at once.
        let began = Instant::now();
        let text = storage_text(c.open(|_| {}));
        assert!(text.contains("skipped"), "{text}");
        assert!(began.elapsed() < Duration::from_millis(500));

        // Closing the listener resets the connection it holds: the attempt ends, its thread
        // counts itself out, and the address is tried again (and refused).
        drop(listener);
        let began = Instant::now();
        while !c.abandoned_lock().is_empty() {
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "the abandoned attempt did not end"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let err = c.open(|_| {}).err().expect("refused");
        assert!(
            !format!("{err:?}").contains("skipped"),
            "tried again once the attempt ended: {err:?}"
        );
    }
}

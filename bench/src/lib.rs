//! Benchmarks only: see `benches/` and README.md. What follows is shared by the benchmarks:
//! settings, what /proc says of a process, and the reading of PostgreSQL's frontend protocol
//! that the refresh benchmark's counting proxy does (here, where it can be tested in pieces).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// An environment setting, or `default` when it is unset or empty.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// A memory figure of a process from /proc, in KiB: `VmRSS:` (now) or `VmHWM:` (the peak);
/// 0 where there is none.
pub fn memory_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}

/// Clock ticks per second, the unit of the CPU times in /proc/<pid>/stat. It is
/// `sysconf(_SC_CLK_TCK)`, which is 100 on every Linux we run on; asking for it would take
/// `libc` and an unsafe call.
pub const CLOCK_TICKS_PER_SECOND: u64 = 100;

/// The CPU time a process has used so far, all its threads, user and system, in clock ticks
/// (utime + stime of /proc/<pid>/stat); `None` once it is gone.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: the fields are counted after it.
    // utime and stime are the stat's fields 14 and 15, the 12th and 13th after the name.
    let mut after_name = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .skip(11);
    let user: u64 = after_name.next()?.parse().ok()?;
    let system: u64 = after_name.next()?.parse().ok()?;
    Some(user + system)
}

/// The CPU time so far, in clock ticks, of every process whose /proc/<pid>/comm is `name`
/// (`postgres` for the server's postmaster and backends), by process id.
pub fn cpu_ticks_of_processes_named(name: &str) -> HashMap<u32, u64> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
        .filter_map(|pid| Some((pid, cpu_ticks(pid)?)))
        .collect()
}

/// The CPU time the processes of `after` used since `before`, in clock ticks: each process
/// counts from its own figure in `before`, or from nothing if it started in between. The
/// processes that ended in between are left out rather than counted negative.
pub fn cpu_ticks_since(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> u64 {
    after
        .iter()
        .map(|(pid, ticks)| ticks.saturating_sub(before.get(pid).copied().unwrap_or(0)))
        .sum()
}

/// A count of events (database round trips, statements), and when detail is asked for, the
/// same count by kind of statement (see [`statement_kind`]).
pub struct Tally {
    total: AtomicU64,
    by_kind: Option<Mutex<HashMap<String, u64>>>,
}

impl Tally {
    pub fn new(detail: bool) -> Tally {
        Tally {
            total: AtomicU64::new(0),
            by_kind: detail.then(Mutex::default),
        }
    }

    pub fn detail(&self) -> bool {
        self.by_kind.is_some()
    }

    pub fn count(&self) {
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one event of the kind `kind` names; the kind is not even worked out without
    /// detail.
    pub fn count_kind(&self, kind: impl FnOnce() -> String) {
        self.count();
        if let Some(by_kind) = &self.by_kind {
            let mut by_kind = by_kind
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *by_kind.entry(kind()).or_default() += 1;
        }
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// The counts by kind, the largest first; empty without detail.
    pub fn by_kind(&self) -> Vec<(String, u64)> {
        let Some(by_kind) = &self.by_kind else {
            return Vec::new();
        };
        let by_kind = by_kind
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut counts: Vec<(String, u64)> = by_kind
            .iter()
            .map(|(kind, count)| (kind.clone(), *count))
            .collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts
    }
}

/// What kind of statement `sql` is, in a few words: its verb and the first table it names
/// (`SELECT accounts`, `UPDATE apalis.jobs`), or its first words when it names none (`BEGIN`).
pub fn statement_kind(sql: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let Some(verb) = words.first() else {
        return "(empty)".to_owned();
    };
    let is_table_keyword = |word: &str| {
        ["FROM", "INTO", "UPDATE", "JOIN"]
            .iter()
            .any(|keyword| word.eq_ignore_ascii_case(keyword))
    };
    let table = words
        .windows(2)
        .find(|pair| is_table_keyword(pair[0]) && !pair[1].starts_with('('))
        .map(|pair| {
            pair[1]
                .replace('"', "")
                .trim_end_matches([',', ';', ')'])
                .to_owned()
        });
    match table {
        Some(table) => format!(
            "{} {table}",
            verb.trim_end_matches(';').to_ascii_uppercase()
        ),
        None => {
            let mut first_words = words[..words.len().min(3)].join(" ");
            if first_words.len() > 60 {
                let end = (0..=60)
                    .rev()
                    .find(|&i| first_words.is_char_boundary(i))
                    .unwrap_or(0);
                first_words.truncate(end);
            }
            first_words
        }
    }
}

/// Reads what a PostgreSQL client sends (the frontend protocol, version 3) as it passes
/// through in chunks of any size, and counts its round trips in a [`Tally`]: a simple query
/// (`Q`) is one, and so is each `Sync` (`S`), which ends an extended-protocol exchange (parse,
/// bind, execute...) and makes the client wait for the server's answer.
///
/// Only the messages' headers are read, unless the tally wants detail: then the round trips
/// are counted by statement, from the SQL of `Q` and of `P` (Parse, which names the statement
/// that later `B` (Bind) messages run).
pub struct FrontendStream {
    phase: Phase,
    header: [u8; STARTUP_HEADER],
    header_len: usize,
    message_type: u8,
    body_left: usize,
    /// The start of the current message's body, when it is one the detail reads.
    body: Option<Vec<u8>>,
    /// With detail: what the statements prepared on this connection are, by name.
    statements: HashMap<Vec<u8>, String>,
    exchange: Exchange,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Messages without a type byte: an SSL or GSSAPI encryption request, a cancel request,
    /// then the startup message. `encryption_requested` once the client has asked.
    Startup { encryption_requested: bool },
    /// Messages with a type byte, after the startup message.
    Messages,
    /// The client went on in TLS (or GSSAPI) after the server accepted its request: nothing
    /// more can be read, or counted.
    Encrypted,
}

/// Length and request code, or protocol version, of a message of the startup phase.
const STARTUP_HEADER: usize = 8;
/// Type byte and length of a later message.
const MESSAGE_HEADER: usize = 5;
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
/// The first byte of a TLS handshake record, which a client sends after an accepted
/// SSLRequest, where a startup message would start with its length's high byte (0).
const TLS_HANDSHAKE: u8 = 0x16;
/// How much of a statement's SQL the detail reads: enough to reach the table a long SELECT
/// names after its columns.
const DETAIL_SQL_LIMIT: usize = 16 * 1024;

/// What the extended-protocol messages since the last Sync did, to label the round trip the
/// next Sync ends.
#[derive(Default)]
struct Exchange {
    prepared: bool,
    executed: bool,
    statement: Option<String>,
}

impl Default for FrontendStream {
    fn default() -> FrontendStream {
        FrontendStream {
            phase: Phase::Startup {
                encryption_requested: false,
            },
            header: [0; STARTUP_HEADER],
            header_len: 0,
            message_type: 0,
            body_left: 0,
            body: None,
            statements: HashMap::new(),
            exchange: Exchange::default(),
        }
    }
}

impl FrontendStream {
    /// Whether the client went on in TLS, so that its round trips are no longer counted.
    pub fn is_encrypted(&self) -> bool {
        self.phase == Phase::Encrypted
    }

    /// Reads the next bytes the client sent.
    pub fn feed(&mut self, mut bytes: &[u8], round_trips: &Tally) {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let taken = self.body_left.min(bytes.len());
                if let Some(body) = &mut self.body {
                    let room = DETAIL_SQL_LIMIT.saturating_sub(body.len());
                    body.extend_from_slice(&bytes[..taken.min(room)]);
                }
                self.body_left -= taken;
                bytes = &bytes[taken..];
                if self.body_left == 0 {
                    self.end_message(round_trips);
                }
                continue;
            }
            let header_size = match self.phase {
                Phase::Encrypted => return,
                Phase::Startup {
                    encryption_requested,
                } => {
                    if encryption_requested && self.header_len == 0 && bytes[0] == TLS_HANDSHAKE {
                        self.phase = Phase::Encrypted;
                        return;
                    }
                    STARTUP_HEADER
                }
                Phase::Messages => MESSAGE_HEADER,
            };
            let taken = (header_size - self.header_len).min(bytes.len());
            self.header[self.header_len..self.header_len + taken].copy_from_slice(&bytes[..taken]);
            self.header_len += taken;
            bytes = &bytes[taken..];
            if self.header_len == header_size {
                self.header_len = 0;
                self.start_message(round_trips);
                if self.body_left == 0 {
                    self.end_message(round_trips);
                }
            }
        }
    }

    fn start_message(&mut self, round_trips: &Tally) {
        let length_at = |at: usize| {
            u32::from_be_bytes(self.header[at..at + 4].try_into().expect("four bytes")) as usize
        };
        if self.phase == Phase::Messages {
            self.message_type = self.header[0];
            // The length counts itself, not the type byte.
            self.body_left = length_at(1).saturating_sub(4);
            let detail_reads_it = matches!(self.message_type, b'Q' | b'P' | b'B');
            self.body = (round_trips.detail() && detail_reads_it).then(Vec::new);
            if !round_trips.detail() && matches!(self.message_type, b'Q' | b'S') {
                round_trips.count();
            }
        } else {
            self.body_left = length_at(0).saturating_sub(STARTUP_HEADER);
            self.body = None;
        }
    }

    fn end_message(&mut self, round_trips: &Tally) {
        if let Phase::Startup { .. } = self.phase {
            let code = u32::from_be_bytes(self.header[4..8].try_into().expect("four bytes"));
            self.phase = match code {
                SSL_REQUEST | GSSENC_REQUEST => Phase::Startup {
                    encryption_requested: true,
                },
                // A protocol version (3.0 is 196608): the startup message.
                version if version >> 16 == 3 => Phase::Messages,
                // A cancel request: the connection ends after it.
                _ => self.phase,
            };
            return;
        }
        if !round_trips.detail() {
            return;
        }
        let body = self.body.take().unwrap_or_default();
        let mut fields = body.split(|&byte| byte == 0);
        match self.message_type {
            b'Q' => {
                let sql = String::from_utf8_lossy(fields.next().unwrap_or_default());
                round_trips.count_kind(|| format!("query {}", statement_kind(&sql)));
            }
            b'P' => {
                let name = fields.next().unwrap_or_default().to_vec();
                let sql = String::from_utf8_lossy(fields.next().unwrap_or_default());
                let kind = statement_kind(&sql);
                self.statements.insert(name, kind.clone());
                self.exchange.prepared = true;
                self.exchange.statement = Some(kind);
            }
            b'B' => {
                let _portal = fields.next();
                let name = fields.next().unwrap_or_default();
                self.exchange.executed = true;
                self.exchange.statement = Some(
                    self.statements
                        .get(name)
                        .cloned()
                        .unwrap_or_else(|| "(a statement not seen prepared)".to_owned()),
                );
            }
            b'S' => {
                let exchange = std::mem::take(&mut self.exchange);
                let what = match (exchange.prepared, exchange.executed) {
                    (true, true) => "prepare+execute",
                    (true, false) => "prepare",
                    (false, true) => "execute",
                    // sqlx's ping: the pool tests a connection this way before lending it.
                    (false, false) => "ping (a Sync alone)",
                };
                let statement = exchange.statement.unwrap_or_default();
                round_trips.count_kind(|| format!("{what} {statement}").trim_end().to_owned());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn startup() -> Vec<u8> {
        let body = b"user\0postgres\0database\0test\0\0";
        let mut message = ((8 + body.len()) as u32).to_be_bytes().to_vec();
        message.extend_from_slice(&196_608u32.to_be_bytes());
        message.extend_from_slice(body);
        message
    }

    fn message(message_type: u8, body: &[u8]) -> Vec<u8> {
        let mut message = vec![message_type];
        message.extend_from_slice(&((4 + body.len()) as u32).to_be_bytes());
        message.extend_from_slice(body);
        message
    }

    /// What sqlx sends for one statement it has not prepared yet on the connection, then
    /// for the same statement again, then a transaction's end, then a ping.
    fn conversation() -> Vec<u8> {
        let mut bytes = startup();
        bytes.extend(message(
            b'P',
            b"sqlx_s_1\0SELECT \"id\" FROM \"accounts\" WHERE x = $1\0\0\0",
        ));
        bytes.extend(message(b'D', b"Ssqlx_s_1\0"));
        bytes.extend(message(b'S', b""));
        for _ in 0..2 {
            bytes.extend(message(b'B', b"\0sqlx_s_1\0\0\0\0\0\0\0"));
            bytes.extend(message(b'E', b"\0\0\0\0\0"));
            bytes.extend(message(b'S', b""));
        }
        bytes.extend(message(b'Q', b"COMMIT\0"));
        bytes.extend(message(b'S', b""));
        bytes
    }

    #[test]
    fn a_query_and_each_sync_are_a_round_trip_however_the_bytes_are_cut() {
        let bytes = conversation();
        for chunk_size in [1, 2, 3, 5, 7, 64, bytes.len()] {
            let round_trips = Tally::new(false);
            let mut stream = FrontendStream::default();
            for chunk in bytes.chunks(chunk_size) {
                stream.feed(chunk, &round_trips);
            }
            assert_eq!(round_trips.total(), 5, "in chunks of {chunk_size}");
        }
    }

    #[test]
    fn detail_names_the_statement_of_each_round_trip() {
        let bytes = conversation();
        for chunk_size in [1, 4, bytes.len()] {
            let round_trips = Tally::new(true);
            let mut stream = FrontendStream::default();
            for chunk in bytes.chunks(chunk_size) {
                stream.feed(chunk, &round_trips);
            }
            assert_eq!(round_trips.total(), 5);
            assert_eq!(
                round_trips.by_kind(),
                vec![
                    ("execute SELECT accounts".to_owned(), 2),
                    ("ping (a Sync alone)".to_owned(), 1),
                    ("prepare SELECT accounts".to_owned(), 1),
                    ("query COMMIT".to_owned(), 1),
                ]
            );
        }
    }

    #[test]
    fn an_ssl_request_is_passed_over_and_tls_after_it_stops_the_count() {
        let mut ssl_request = 8u32.to_be_bytes().to_vec();
        ssl_request.extend_from_slice(&SSL_REQUEST.to_be_bytes());

        let refused = Tally::new(false);
        let mut stream = FrontendStream::default();
        stream.feed(&ssl_request, &refused);
        stream.feed(&conversation(), &refused);
        assert_eq!(refused.total(), 5);

        let accepted = Tally::new(false);
        let mut stream = FrontendStream::default();
        stream.feed(&ssl_request, &accepted);
        stream.feed(&[TLS_HANDSHAKE, 3, 1, 0, 0x50], &accepted);
        assert!(stream.is_encrypted());
        assert_eq!(accepted.total(), 0);
    }

    #[test]
    fn a_statement_kind_is_its_verb_and_first_table() {
        assert_eq!(
            statement_kind("SELECT \"a\".\"id\", \"a\".\"x\" FROM \"accounts\" AS \"a\""),
            "SELECT accounts"
        );
        assert_eq!(
            statement_kind("update \"apalis\".\"jobs\" SET status = $1"),
            "UPDATE apalis.jobs"
        );
        assert_eq!(
            statement_kind("INSERT INTO refresh_events (a) VALUES ($1)"),
            "INSERT refresh_events"
        );
        assert_eq!(
            statement_kind("SELECT x FROM (SELECT 1) JOIN t ON true"),
            "SELECT t"
        );
        assert_eq!(statement_kind("BEGIN"), "BEGIN");
        assert_eq!(statement_kind("  "), "(empty)");
    }

    #[test]
    fn cpu_time_since_leaves_out_the_processes_that_ended() {
        let before = HashMap::from([(1, 100), (2, 50)]);
        let after = HashMap::from([(1, 130), (3, 7)]);
        assert_eq!(cpu_ticks_since(&before, &after), 37);
    }

    #[test]
    fn this_process_has_a_cpu_time() {
        assert!(cpu_ticks(std::process::id()).is_some());
    }
}

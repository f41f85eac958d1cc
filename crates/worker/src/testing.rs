//! What tests of e-mail need (the `testing` feature): an SMTP server of their own.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Just enough of an SMTP server to take messages and keep them.
pub struct SmtpSink {
    /// `smtp://127.0.0.1:PORT`, for `FRESHTOKEN_SMTP_URL`.
    pub url: String,
    messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let messages: Arc<Mutex<Vec<String>>> = Arc::default();
        let kept = messages.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let mut message = String::new();
                    let mut in_data = false;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if in_data {
                            if line == "." {
                                in_data = false;
                                kept.lock().unwrap().push(std::mem::take(&mut message));
                                let _ = write.write_all(b"250 queued\r\n").await;
                            } else {
                                message.push_str(&line);
                                message.push('\n');
                            }
                            continue;
                        }
                        let command = line.to_ascii_uppercase();
                        let reply: &[u8] = if command.starts_with("EHLO") {
                            b"250 sink\r\n"
                        } else if command.starts_with("DATA") {
                            in_data = true;
                            b"354 go ahead\r\n"
                        } else if command.starts_with("QUIT") {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        } else {
                            if command.starts_with("RCPT TO:") {
                                message.push_str(&line);
                                message.push('\n');
                            }
                            b"250 ok\r\n"
                        };
                        let _ = write.write_all(reply).await;
                    }
                });
            }
        });
        SmtpSink { url, messages }
    }

    /// Each message as received: its `RCPT TO:` lines, then its headers and body.
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits (10 s at most) until `count` messages have arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<String> {
        for _ in 0..400 {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("expected {count} e-mails, got {:?}", self.messages());
    }
}

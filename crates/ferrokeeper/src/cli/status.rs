//! `status`: the `zkServer.sh status` algorithm, output and exit codes.
//!
//! Kubernetes runbooks and humans run `zkServer.sh status` and expect the exact lines (and
//! exit status) of the Java script. The client port is found by *grepping* the config file
//! as the script does (not by Properties parsing): `clientPort`, else our `server.<myid>`
//! line's `;` part in the static then the dynamic file, else `secureClientPort`. Then `srvr`
//! is sent with a 5 s timeout and the `Mode:` line is printed (exit 0), or
//! `Error contacting service. It is probably not running.` (exit 1).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

/// Timeout of `FourLetterWordMain` (connect and read), in milliseconds.
pub const FOUR_LETTER_TIMEOUT: Duration = Duration::from_millis(5000);

/// Where `status` will connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusTarget {
    /// Address text as the script would pass it (default `localhost`).
    pub address: String,
    /// Port text (normally digits).
    pub port: String,
    /// True when only `secureClientPort` was found.
    pub ssl: bool,
}

/// Values of lines matching `^[[:space:]]*<key><rest>`, taken after the last `=` and trimmed.
///
/// `need_non_alpha` adds the script's `[^[:alpha:]]` requirement right after the key.
fn grep_values(text: &str, key: &str, need_non_alpha: bool) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim_start_matches([' ', '\t', '\r', '\u{b}', '\u{c}']);
        let Some(rest) = l.strip_prefix(key) else {
            continue;
        };
        if need_non_alpha {
            match rest.chars().next() {
                Some(c) if !c.is_ascii_alphabetic() => {}
                _ => continue,
            }
        }
        let value = match line.rfind('=') {
            Some(i) => &line[i + 1..],
            None => line,
        };
        out.push(value.trim().to_string());
    }
    out
}

/// Index of the first `:` at or after `from` that is followed by a digit (regex `:[0-9]`).
fn colon_digit_at(s: &str, from: usize) -> Option<usize> {
    s.get(from..)?
        .match_indices(':')
        .map(|(i, _)| from + i)
        .find(|&i| s[i + 1..].starts_with(|c: char| c.is_ascii_digit()))
}

fn first(v: Vec<String>) -> Option<String> {
    v.into_iter().next().filter(|s| !s.is_empty())
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The `;`-part of `server.<myid>=...;...` lines (after the last `=`, then the last `;`).
fn server_client_part(text: &str, myid: &str) -> Option<String> {
    let prefix = format!("server.{myid}=");
    for line in text.lines() {
        let l = line.trim_start_matches([' ', '\t', '\r', '\u{b}', '\u{c}']);
        if !l.starts_with(&prefix) || !l[prefix.len()..].contains(';') {
            continue;
        }
        let after_eq = match line.rfind('=') {
            Some(i) => &line[i + 1..],
            None => line,
        };
        let after_semi = match after_eq.rfind(';') {
            Some(i) => &after_eq[i + 1..],
            None => after_eq,
        };
        let v = after_semi.trim();
        if !v.is_empty() {
            return Some(v.to_string());
        }
    }
    None
}

/// Finds the port like zkServer.sh, writing its informational lines to `out`.
///
/// Returns `None` after printing the "Terminating." line when no port exists at all.
pub fn find_client_port(cfg_text: &str, out: &mut dyn Write) -> Option<StatusTarget> {
    let mut address = first(grep_values(cfg_text, "clientPortAddress", true))
        .unwrap_or_else(|| "localhost".into());
    let mut port = first(grep_values(cfg_text, "clientPort", true));
    if !port.as_deref().is_some_and(is_digits) {
        let data_dir = first(grep_values(cfg_text, "dataDir", false)).unwrap_or_default();
        let myid = std::fs::read(Path::new(&data_dir).join("myid"))
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .trim_end_matches('\n')
                    .to_string()
            })
            .unwrap_or_default();
        if !is_digits(&myid) {
            let _ = writeln!(
                out,
                "myid could not be determined, will not able to locate clientPort in the server configs."
            );
        } else {
            let mut found = server_client_part(cfg_text, &myid);
            if found.is_none() {
                let _ = writeln!(
                    out,
                    "Client port not found in static config file. Looking in dynamic config file."
                );
                if let Some(dyn_file) = first(grep_values(cfg_text, "dynamicConfigFile", false)) {
                    if let Ok(b) = std::fs::read(&dyn_file) {
                        found = server_client_part(&String::from_utf8_lossy(&b), &myid);
                    }
                }
            }
            match found {
                None => {
                    let _ = writeln!(out, "Client port not found in the server configs");
                }
                Some(cpa) => {
                    if colon_digit_at(&cpa, 0).is_some() {
                        let bracketed = cpa
                            .find('[')
                            .and_then(|open| cpa[open..].find("]:").map(|c| open + c))
                            .is_some_and(|close| {
                                colon_digit_at(&cpa, close + 1) == Some(close + 1)
                            });
                        if bracketed {
                            let s = cpa.replacen('[', "", 1);
                            let end = s.find("]:").unwrap_or(s.len());
                            address = s[..end].to_string();
                        } else {
                            address = cpa.split(':').next().unwrap_or("").to_string();
                        }
                    }
                    port = Some(match cpa.rfind(':') {
                        Some(i) => cpa[i + 1..].to_string(),
                        None => cpa.clone(),
                    });
                }
            }
        }
    }
    let mut ssl = false;
    if port.as_deref().map_or(true, str::is_empty) {
        let _ = writeln!(
            out,
            "Client port not found. Looking for secureClientPort in the static config."
        );
        match first(grep_values(cfg_text, "secureClientPort", true)) {
            Some(p) => {
                ssl = true;
                port = Some(p);
                address = first(grep_values(cfg_text, "secureClientPortAddress", true))
                    .unwrap_or_else(|| "localhost".into());
            }
            None => {
                let _ = writeln!(
                    out,
                    "Unable to find either secure or unsecure client port in any configs. Terminating."
                );
                return None;
            }
        }
    }
    Some(StatusTarget {
        address,
        port: port.unwrap_or_default(),
        ssl,
    })
}

/// Sends a four-letter word like `FourLetterWordMain` (plain TCP only) and returns the reply.
pub fn send_four_letter_word(address: &str, port: &str, cmd: &str) -> std::io::Result<String> {
    let port: u16 = port
        .parse()
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad port"))?;
    let addrs: Vec<_> = (address, port).to_socket_addrs()?.collect();
    let mut last_err = std::io::Error::new(std::io::ErrorKind::NotFound, "address not resolved");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, FOUR_LETTER_TIMEOUT) {
            Ok(mut s) => {
                s.set_read_timeout(Some(FOUR_LETTER_TIMEOUT))?;
                s.set_write_timeout(Some(FOUR_LETTER_TIMEOUT))?;
                s.write_all(cmd.as_bytes())?;
                s.flush()?;
                let _ = s.shutdown(std::net::Shutdown::Write);
                let mut buf = Vec::new();
                s.read_to_end(&mut buf)?;
                return Ok(String::from_utf8_lossy(&buf).into_owned());
            }
            Err(e) => last_err = e,
        }
    }
    Err(last_err)
}

/// Runs `status` against the config text; writes script-identical stdout; returns exit code.
pub fn run_status(cfg_text: &str, out: &mut dyn Write) -> i32 {
    let Some(target) = find_client_port(cfg_text, out) else {
        return 1;
    };
    let _ = writeln!(
        out,
        "Client port found: {}. Client address: {}. Client SSL: {}.",
        target.port, target.address, target.ssl
    );
    let stat = if target.ssl {
        // TLS four-letter words are not implemented by this launcher (no TLS client).
        String::new()
    } else {
        match send_four_letter_word(&target.address, &target.port, "srvr") {
            Ok(reply) => reply
                .lines()
                .filter(|l| l.contains("Mode"))
                .collect::<Vec<_>>()
                .join(" ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            Err(_) => String::new(),
        }
    };
    if stat.is_empty() {
        if target.ssl {
            let _ = writeln!(out, " ");
            let _ = writeln!(out, "Note: We used secureClientPort ({}) to establish connection, but we failed. The 'status'", target.port);
            let _ = writeln!(out, "  command establishes a client connection to the server to execute diagnostic commands. Please make sure you");
            let _ = writeln!(out, "  provided all the Client SSL connection related parameters in the CLIENT_JVMFLAGS environment variable! E.g.:");
            let _ = writeln!(out, "  CLIENT_JVMFLAGS=\"-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty");
            let _ = writeln!(out, "  -Dzookeeper.ssl.trustStore.location=/tmp/clienttrust.jks -Dzookeeper.ssl.trustStore.password=password");
            let _ = writeln!(out, "  -Dzookeeper.ssl.keyStore.location=/tmp/client.jks -Dzookeeper.ssl.keyStore.password=password");
            let _ = writeln!(
                out,
                "  -Dzookeeper.client.secure=true\" ./zkServer.sh status"
            );
            let _ = writeln!(out, " ");
        }
        let _ = writeln!(out, "Error contacting service. It is probably not running.");
        1
    } else {
        let _ = writeln!(out, "{stat}");
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_util::TempDir;
    use std::net::TcpListener;

    fn find(text: &str) -> (Option<StatusTarget>, String) {
        let mut out = Vec::new();
        let t = find_client_port(text, &mut out);
        (t, String::from_utf8(out).unwrap())
    }

    #[test]
    fn client_port_line() {
        let (t, out) = find("dataDir=/x\nclientPort=2181\nclientPortAddress=10.1.2.3\n");
        assert_eq!(
            t,
            Some(StatusTarget {
                address: "10.1.2.3".into(),
                port: "2181".into(),
                ssl: false
            })
        );
        assert_eq!(out, "");
        // commented-out and longer keys do not match
        let (t, _) = find("#clientPort=1\nclientPortX=2\nclientPort = 3\n");
        assert_eq!(t.unwrap().port, "3");
    }

    #[test]
    fn port_from_server_line_and_dynamic_file() {
        let dir = TempDir::new("status-myid");
        std::fs::write(dir.path().join("myid"), "2\n").unwrap();
        let d = dir.path().display();
        let text = format!(
            "dataDir={d}\nserver.1=a:2888:3888;2181\nserver.2=b:2888:3888:participant;[::1]:2182\n"
        );
        let (t, out) = find(&text);
        assert_eq!(
            t,
            Some(StatusTarget {
                address: "::1".into(),
                port: "2182".into(),
                ssl: false
            })
        );
        assert_eq!(out, "");

        let dynf = dir.path().join("zoo.cfg.dynamic.100000000");
        std::fs::write(&dynf, "server.2=b:2888:3888:participant;127.0.0.1:2183\n").unwrap();
        let text = format!("dataDir={d}\ndynamicConfigFile={}\n", dynf.display());
        let (t, out) = find(&text);
        assert_eq!(t.unwrap().port, "2183");
        assert_eq!(
            out,
            "Client port not found in static config file. Looking in dynamic config file.\n"
        );

        let text = format!("dataDir={d}\nserver.2=b:2888:3888;2184\n");
        let (t, _) = find(&text);
        let t = t.unwrap();
        assert_eq!((t.address.as_str(), t.port.as_str()), ("localhost", "2184"));
    }

    #[test]
    fn secure_port_and_nothing() {
        let (t, out) = find("dataDir=/nonexistent\nsecureClientPort=2281\n");
        assert_eq!(
            t,
            Some(StatusTarget {
                address: "localhost".into(),
                port: "2281".into(),
                ssl: true
            })
        );
        assert_eq!(
            out,
            "myid could not be determined, will not able to locate clientPort in the server configs.\n\
             Client port not found. Looking for secureClientPort in the static config.\n"
        );
        let mut out = Vec::new();
        assert_eq!(run_status("dataDir=/nonexistent\n", &mut out), 1);
        assert!(String::from_utf8(out).unwrap().ends_with(
            "Unable to find either secure or unsecure client port in any configs. Terminating.\n"
        ));
    }

    #[test]
    fn status_against_live_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut cmd = [0u8; 4];
            s.read_exact(&mut cmd).unwrap();
            assert_eq!(&cmd, b"srvr");
            s.write_all(
                b"Zookeeper version: 3.9.4\nLatency min/avg/max: 0/0.0/0\nMode: follower\nNode count: 5\n",
            )
            .unwrap();
        });
        let mut out = Vec::new();
        let code = run_status(
            &format!("clientPort={port}\nclientPortAddress=127.0.0.1\n"),
            &mut out,
        );
        handle.join().unwrap();
        assert_eq!(code, 0);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("Client port found: {port}. Client address: 127.0.0.1. Client SSL: false.\nMode: follower\n")
        );
    }

    #[test]
    fn status_not_serving_and_closed() {
        // a server that answers without a Mode line (not serving)
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut cmd = [0u8; 4];
            let _ = s.read_exact(&mut cmd);
            let _ = s.write_all(b"This ZooKeeper instance is not currently serving requests\n");
        });
        let mut out = Vec::new();
        let code = run_status(
            &format!("clientPort={port}\nclientPortAddress=127.0.0.1\n"),
            &mut out,
        );
        handle.join().unwrap();
        assert_eq!(code, 1);
        assert!(String::from_utf8(out)
            .unwrap()
            .ends_with("Error contacting service. It is probably not running.\n"));

        // closed port: bind, learn the port, drop the listener
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut out = Vec::new();
        let code = run_status(
            &format!("clientPort={port}\nclientPortAddress=127.0.0.1\n"),
            &mut out,
        );
        assert_eq!(code, 1);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("Client port found: {port}. Client address: 127.0.0.1. Client SSL: false.\nError contacting service. It is probably not running.\n")
        );
    }
}

//! The downloader against a small HTTP/1.1 server on 127.0.0.1 that this test
//! runs itself, serving the real MNIST files, a corrupted file, 404s and a
//! connection that closes early. Nothing here touches the internet.
#![cfg(feature = "download")]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use siamese_data::download::{DownloadError, Downloader, FILES, FetchError, Progress};

const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// The real gzipped files: from `SIAMESE_DATA_DIR` if it has them, else from
/// `shared/data/mnist` beside the checkout. Missing data is a failure, not a
/// skip, so that a broken setup cannot pass unnoticed.
fn real_dir() -> PathBuf {
    let has_all = |d: &Path| {
        FILES
            .iter()
            .all(|f| d.join(format!("{}.gz", f.name)).is_file())
    };
    let from_env = std::env::var_os("SIAMESE_DATA_DIR").map(PathBuf::from);
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist");
    from_env
        .into_iter()
        .chain([beside.clone()])
        .find(|d| has_all(d))
        .unwrap_or_else(|| {
            panic!(
                "the four MNIST .gz files were found neither in $SIAMESE_DATA_DIR nor in {}; \
                 put them there (or point SIAMESE_DATA_DIR at them) to run this test",
                beside.display()
            )
        })
}

fn real_gz(name: &str) -> Arc<Vec<u8>> {
    let path = real_dir().join(format!("{name}.gz"));
    Arc::new(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Copies the real files named into `dir`, so a test downloads only the rest.
fn seed(dir: &Path, names: &[&str]) {
    for name in names {
        let gz = format!("{name}.gz");
        std::fs::copy(real_dir().join(&gz), dir.join(&gz)).unwrap();
    }
}

/// Names in `dir`, sorted; temporary files would show up here too.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn sha256_hex_of_gunzipped(bytes: &[u8]) -> String {
    let mut raw = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut raw)
        .unwrap();
    Sha256::digest(&raw)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

enum Route {
    File(Arc<Vec<u8>>),
    /// Announces `claimed` bytes, sends `body`, then closes.
    CutShort {
        body: Arc<Vec<u8>>,
        claimed: usize,
    },
}

/// A one-thread HTTP/1.1 server on 127.0.0.1: unknown paths get 404. It
/// stops when dropped, or by itself after a minute so that a failing test
/// cannot leave it running.
struct Server {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(routes: HashMap<String, Route>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (Arc::clone(&requests), Arc::clone(&stop));
            thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(60);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match listener.accept() {
                        Ok((stream, _)) => serve(stream, &routes, &requests),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(5));
                        }
                        Err(e) => panic!("accept: {e}"),
                    }
                }
            })
        };
        Server {
            base,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// Base URL of a mirror rooted at `/prefix/`.
    fn mirror(&self, prefix: &str) -> String {
        format!("{}/{prefix}/", self.base)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut stream: TcpStream, routes: &HashMap<String, Route>, requests: &Mutex<Vec<String>>) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 << 10 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    requests.lock().unwrap().push(path.clone());
    // Write errors are ignored: the client may hang up first, which is its
    // business, and the test asserts on what the client saw.
    let _ = match routes.get(&path) {
        Some(Route::File(body)) => respond(&mut stream, "200 OK", body.len(), body),
        Some(Route::CutShort { body, claimed }) => respond(&mut stream, "200 OK", *claimed, body),
        None => respond(&mut stream, "404 Not Found", 9, b"not found"),
    };
    let _ = stream.shutdown(Shutdown::Write);
}

fn respond(stream: &mut TcpStream, status: &str, len: usize, body: &[u8]) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\n\
         Connection: close\r\n\r\n"
    )?;
    stream.write_all(body)?;
    stream.flush()
}

/// Routes `/good/<name>.gz` to the real files.
fn good_routes() -> HashMap<String, Route> {
    FILES
        .iter()
        .map(|f| (format!("/good/{}.gz", f.name), Route::File(real_gz(f.name))))
        .collect()
}

/// Progress events as strings, leaving out the many `Received` ones.
fn describe(event: &Progress<'_>) -> Option<String> {
    match event {
        Progress::Present { file } => Some(format!("present {file}")),
        Progress::Started { url, total, .. } => Some(format!("started {url} {total:?}")),
        Progress::Received { .. } => None,
        Progress::MirrorFailed { error, .. } => Some(format!("failed {error}")),
        Progress::Finished { file, bytes, .. } => Some(format!("finished {file} {bytes}")),
        other => panic!("unexpected event {other:?}"),
    }
}

fn quick(mirrors: Vec<String>) -> Downloader {
    Downloader::default()
        .with_mirrors(mirrors)
        .with_connect_timeout(Duration::from_secs(2))
        .with_read_timeout(Duration::from_secs(5))
}

#[test]
fn downloads_all_files_verified_then_skips_them() {
    let server = Server::start(good_routes());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/mnist"); // created on demand
    let mut events = Vec::new();
    let mut last_received = HashMap::new();
    let fetched = quick(vec![server.mirror("good")])
        .ensure(&data, &mut |e| {
            if let Progress::Received { file, received, .. } = e {
                last_received.insert(file, received);
            }
            events.extend(describe(&e));
        })
        .unwrap();

    assert!(fetched.present.is_empty());
    let expected_paths: Vec<PathBuf> = FILES
        .iter()
        .map(|f| data.join(format!("{}.gz", f.name)))
        .collect();
    assert_eq!(fetched.downloaded, expected_paths);
    for f in &FILES {
        let bytes = std::fs::read(data.join(format!("{}.gz", f.name))).unwrap();
        assert_eq!(
            bytes,
            *real_gz(f.name),
            "{} differs from what was served",
            f.name
        );
        assert_eq!(sha256_hex_of_gunzipped(&bytes), f.sha256, "{}", f.name);
        let len = bytes.len() as u64;
        assert_eq!(last_received[f.name], len, "progress for {}", f.name);
        let started = format!("started {}{}.gz Some({len})", server.mirror("good"), f.name);
        assert!(events.contains(&started), "{started} not in {events:#?}");
        assert!(
            events.contains(&format!("finished {} {len}", f.name)),
            "{events:#?}"
        );
    }
    // Nothing but the four files: no temporary file left behind.
    let mut names: Vec<String> = FILES.iter().map(|f| format!("{}.gz", f.name)).collect();
    names.sort();
    assert_eq!(listing(&data), names);

    // They load, and hold the published first labels.
    let mnist = siamese_data::Mnist::load(&data).unwrap();
    assert_eq!(mnist.train.len(), 60_000);
    assert_eq!(mnist.test.len(), 10_000);
    assert_eq!(&mnist.train.labels()[..5], &[5, 0, 4, 1, 9]);
    assert_eq!(&mnist.test.labels()[..5], &[7, 2, 1, 0, 4]);

    // A second run finds everything and makes no request.
    let requests = server.requests().len();
    assert_eq!(requests, 4);
    let mut events = Vec::new();
    let again = quick(vec![server.mirror("good")])
        .ensure(&data, &mut |e| events.extend(describe(&e)))
        .unwrap();
    assert!(again.downloaded.is_empty());
    assert_eq!(again.present, FILES.map(|f| f.name).to_vec());
    assert_eq!(server.requests().len(), requests);
    assert_eq!(events.len(), 4);
    assert!(
        events.iter().all(|e| e.starts_with("present ")),
        "{events:?}"
    );
}

#[test]
fn falls_back_to_the_next_mirror_after_a_404() {
    let server = Server::start(good_routes());
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path(), &[TRAIN_IMAGES, TEST_IMAGES, TEST_LABELS]);
    let mut events = Vec::new();
    let fetched = quick(vec![server.mirror("gone"), server.mirror("good")])
        .ensure(dir.path(), &mut |e| events.extend(describe(&e)))
        .unwrap();

    assert_eq!(
        fetched.downloaded,
        vec![dir.path().join(format!("{TRAIN_LABELS}.gz"))]
    );
    assert_eq!(
        fetched.present,
        vec![TRAIN_IMAGES, TEST_IMAGES, TEST_LABELS]
    );
    assert_eq!(
        server.requests(),
        vec![
            format!("/gone/{TRAIN_LABELS}.gz"),
            format!("/good/{TRAIN_LABELS}.gz")
        ]
    );
    let failed = format!(
        "failed {}{TRAIN_LABELS}.gz: HTTP status 404, expected 200",
        server.mirror("gone")
    );
    assert!(events.contains(&failed), "{failed} not in {events:#?}");
    let bytes = std::fs::read(dir.path().join(format!("{TRAIN_LABELS}.gz"))).unwrap();
    assert_eq!(sha256_hex_of_gunzipped(&bytes), FILES[1].sha256);
}

#[test]
fn a_404_everywhere_lists_each_attempt_and_says_what_to_do() {
    let server = Server::start(HashMap::new());
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path(), &[TEST_LABELS]);
    let mirrors = vec![server.mirror("a"), server.mirror("b")];
    let err = quick(mirrors.clone())
        .ensure(dir.path(), &mut |_| {})
        .unwrap_err();

    let DownloadError::Unavailable {
        file,
        attempts,
        missing,
        ..
    } = &err
    else {
        panic!("expected Unavailable, got {err:?}");
    };
    assert_eq!(*file, TRAIN_IMAGES);
    assert_eq!(missing, &[TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES]);
    assert!(
        attempts
            .iter()
            .all(|a| matches!(a, FetchError::Status { status: 404, .. })),
        "{attempts:?}"
    );
    // It stops at the first file that no mirror has, rather than trying all.
    assert_eq!(server.requests().len(), 2);

    let msg = err.to_string();
    for needle in [
        format!("could not download {TRAIN_IMAGES}.gz from any mirror"),
        format!(
            "{}{TRAIN_IMAGES}.gz: HTTP status 404, expected 200",
            mirrors[0]
        ),
        format!(
            "{}{TRAIN_IMAGES}.gz: HTTP status 404, expected 200",
            mirrors[1]
        ),
        format!(
            "missing from {}: {TRAIN_IMAGES}.gz, {TRAIN_LABELS}.gz, {TEST_IMAGES}.gz.",
            dir.path().display()
        ),
        format!("Download them by hand from {}, {}", mirrors[0], mirrors[1]),
        format!("in {}, or set SIAMESE_DATA_DIR", dir.path().display()),
    ] {
        assert!(msg.contains(&needle), "{needle:?} not in:\n{msg}");
    }
    assert_eq!(listing(dir.path()), vec![format!("{TEST_LABELS}.gz")]);
}

#[test]
fn a_wrong_file_is_rejected_naming_it_and_both_hashes() {
    // A valid gzip of the wrong data: the test labels served as training labels.
    let mut routes = HashMap::new();
    routes.insert(
        format!("/bad/{TRAIN_LABELS}.gz"),
        Route::File(real_gz(TEST_LABELS)),
    );
    let server = Server::start(routes);
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path(), &[TRAIN_IMAGES, TEST_IMAGES, TEST_LABELS]);
    let err = quick(vec![server.mirror("bad")])
        .ensure(dir.path(), &mut |_| {})
        .unwrap_err();

    let DownloadError::Unavailable { attempts, .. } = &err else {
        panic!("expected Unavailable, got {err:?}");
    };
    assert!(
        matches!(
            &attempts[..],
            [FetchError::ChecksumMismatch {
                file: TRAIN_LABELS,
                ..
            }]
        ),
        "{attempts:?}"
    );
    let expected = FILES[1].sha256;
    let found = FILES[3].sha256; // what the test labels decompress to
    let needle = format!(
        "{}{TRAIN_LABELS}.gz: sha256 mismatch for {TRAIN_LABELS} (decompressed): \
         expected {expected}, found {found}",
        server.mirror("bad")
    );
    let msg = err.to_string();
    assert!(msg.contains(&needle), "{needle:?} not in:\n{msg}");
    // Nothing under the final name, and no temporary file either.
    let mut names = vec![
        format!("{TRAIN_IMAGES}.gz"),
        format!("{TEST_IMAGES}.gz"),
        format!("{TEST_LABELS}.gz"),
    ];
    names.sort();
    assert_eq!(listing(dir.path()), names);
}

#[test]
fn corrupt_gzip_is_rejected() {
    let mut bytes = real_gz(TEST_LABELS).to_vec();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 16] {
        *b ^= 0xA5;
    }
    let mut routes = HashMap::new();
    routes.insert(
        format!("/bad/{TEST_LABELS}.gz"),
        Route::File(Arc::new(bytes)),
    );
    let server = Server::start(routes);
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path(), &[TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES]);
    let err = quick(vec![server.mirror("bad")])
        .ensure(dir.path(), &mut |_| {})
        .unwrap_err();

    let msg = err.to_string();
    let DownloadError::Unavailable { attempts, .. } = err else {
        panic!("expected Unavailable, got {msg}");
    };
    // A flipped block either breaks the deflate stream or the gzip CRC; both
    // are gzip errors, and the CRC is what catches the rest.
    assert!(
        matches!(
            &attempts[..],
            [FetchError::Gzip {
                file: TEST_LABELS,
                ..
            }]
        ),
        "{attempts:?}"
    );
    assert!(
        msg.contains(&format!("corrupt gzip data for {TEST_LABELS}")),
        "{msg}"
    );
    assert!(!dir.path().join(format!("{TEST_LABELS}.gz")).exists());
    assert_eq!(listing(dir.path()).len(), 3);
}

#[test]
fn a_connection_closed_early_says_expected_and_received() {
    let body = real_gz(TRAIN_LABELS);
    let sent = body.len() / 2;
    let mut routes = HashMap::new();
    routes.insert(
        format!("/cut/{TRAIN_LABELS}.gz"),
        Route::CutShort {
            body: Arc::new(body[..sent].to_vec()),
            claimed: body.len(),
        },
    );
    let server = Server::start(routes);
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path(), &[TRAIN_IMAGES, TEST_IMAGES, TEST_LABELS]);
    let err = quick(vec![server.mirror("cut")])
        .ensure(dir.path(), &mut |_| {})
        .unwrap_err();

    let msg = err.to_string();
    let DownloadError::Unavailable { attempts, .. } = err else {
        panic!("expected Unavailable, got {msg}");
    };
    let (expected, received) = (body.len() as u64, sent as u64);
    assert!(
        matches!(&attempts[..], [FetchError::Truncated { expected: e, received: r, .. }]
            if *e == expected && *r == received),
        "{attempts:?}"
    );
    let needle = format!("connection closed early: expected {expected} bytes, received {received}");
    assert!(msg.contains(&needle), "{needle:?} not in:\n{msg}");
    assert!(!dir.path().join(format!("{TRAIN_LABELS}.gz")).exists());
    assert_eq!(listing(dir.path()).len(), 3);
}

/// A port on 127.0.0.1 with nothing listening: connecting is refused at once.
fn closed_port_mirror() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/mnist/")
}

#[test]
fn an_unreachable_mirror_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    let mirror = closed_port_mirror();
    let start = Instant::now();
    let err = quick(vec![mirror.clone()])
        .ensure(dir.path(), &mut |_| {})
        .unwrap_err();
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");

    let msg = err.to_string();
    let DownloadError::Unavailable {
        attempts, missing, ..
    } = err
    else {
        panic!("expected Unavailable, got {msg}");
    };
    assert!(
        matches!(&attempts[..], [FetchError::Transport { .. }]),
        "{attempts:?}"
    );
    assert_eq!(missing.len(), 4);
    // The transport's reason follows once, after the attempt's own words.
    let needle = format!("{mirror}{TRAIN_IMAGES}.gz: request failed: ");
    assert!(msg.contains(&needle), "{needle:?} not in:\n{msg}");
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn a_file_is_refused_as_the_directory_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    std::fs::write(&file, "root:x:0:0").unwrap();
    let err = quick(vec![closed_port_mirror()])
        .ensure(&file, &mut |_| panic!("no download may start"))
        .unwrap_err();
    assert!(
        matches!(err, DownloadError::NotADirectory { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("{} is a file, not a directory", file.display())),
        "{err}"
    );
}

#[test]
fn an_unreachable_mirror_is_tried_last_for_later_files() {
    let server = Server::start(good_routes());
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path(), &[TRAIN_IMAGES, TEST_IMAGES]);
    let mut failures = 0;
    let fetched = quick(vec![closed_port_mirror(), server.mirror("good")])
        .ensure(dir.path(), &mut |e| {
            if let Progress::MirrorFailed { error, .. } = e {
                assert!(matches!(error, FetchError::Transport { .. }), "{error}");
                failures += 1;
            }
        })
        .unwrap();
    assert_eq!(fetched.downloaded.len(), 2);
    // Refused for the first missing file, then not asked again.
    assert_eq!(failures, 1);
    assert_eq!(
        server.requests(),
        vec![
            format!("/good/{TRAIN_LABELS}.gz"),
            format!("/good/{TEST_LABELS}.gz")
        ]
    );
}

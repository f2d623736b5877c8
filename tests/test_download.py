"""download() and extract() against a loopback HTTP server and hand-made hostile archives.

Nothing here touches the network beyond 127.0.0.1.
"""

import gzip
import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading
import zipfile

import pytest

from dlbook.data.fetch import DownloadError, UnsafeArchiveError, data_home, download, extract


class LoopbackServer:
    """A tiny HTTP server on 127.0.0.1 that serves ``files`` and counts the requests it gets.

    Besides ``files`` (path -> bytes) it knows two broken paths: ``/missing`` answers 404 and
    ``/cutoff`` promises 1,000 bytes but sends 10 and hangs up.
    """

    def __init__(self, files=None):
        self.files = dict(files or {})
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                if self.path == "/cutoff":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b"0123456789")
                    self.wfile.flush()
                    self.close_connection = True
                elif self.path in server.files:
                    body = server.files[self.path]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404)

            def log_message(self, *args):  # keep the test output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PAYLOAD = b"the quick brown fox jumps over the lazy dog\n" * 1000
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def server():
    with LoopbackServer({"/data.bin": PAYLOAD}) as s:
        yield s


def assert_empty(folder):
    assert list(folder.iterdir()) == [], "a failed download must leave no file, not even a part"


def test_download_checks_and_returns_the_path(server, tmp_path):
    path = tmp_path / "sub" / "data.bin"
    assert download(server.url + "/data.bin", path, PAYLOAD_SHA) == path
    assert path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in path.parent.iterdir()) == ["data.bin"]  # no temp file left


def test_cached_file_needs_no_request(server, tmp_path):
    path = tmp_path / "data.bin"
    download(server.url + "/data.bin", path, PAYLOAD_SHA)
    download(server.url + "/data.bin", path, PAYLOAD_SHA.upper())  # digests are case-blind
    assert server.requests == ["/data.bin"]


def test_corrupt_cache_is_downloaded_again(server, tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"half a file")
    with pytest.warns(UserWarning, match="corrupt"):
        download(server.url + "/data.bin", path, PAYLOAD_SHA)
    assert path.read_bytes() == PAYLOAD and server.requests == ["/data.bin"]


def test_bad_checksum_names_the_url_and_leaves_nothing(server, tmp_path):
    url = server.url + "/data.bin"
    with pytest.raises(DownloadError, match=f"{url}.*SHA-256"):
        download(url, tmp_path / "data.bin", "0" * 64)
    assert_empty(tmp_path)


def test_failed_redownload_removes_the_corrupt_cache(server, tmp_path):
    (tmp_path / "data.bin").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="corrupt"), pytest.raises(DownloadError, match="404"):
        download(server.url + "/missing", tmp_path / "data.bin", PAYLOAD_SHA)
    assert_empty(tmp_path)


def test_http_error(server, tmp_path):
    url = server.url + "/missing"
    with pytest.raises(DownloadError, match=f"{url}: HTTP 404"):
        download(url, tmp_path / "x.gz", PAYLOAD_SHA)
    assert_empty(tmp_path)


def test_cut_off_transfer(server, tmp_path):
    url = server.url + "/cutoff"
    with pytest.raises(DownloadError, match=f"{url}: transfer cut off: got 10 of 1000"):
        download(url, tmp_path / "x.gz", PAYLOAD_SHA)
    assert_empty(tmp_path)


def test_unreachable_host(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/data.bin"
    with pytest.raises(DownloadError, match=f"{url}: cannot reach"):
        download(url, tmp_path / "data.bin", PAYLOAD_SHA, timeout=5)
    assert_empty(tmp_path)


def test_an_error_is_an_oserror(tmp_path):
    with pytest.raises(OSError):
        download(f"http://127.0.0.1:{closed_port()}/x", tmp_path / "x", PAYLOAD_SHA, timeout=5)


def test_unpinned_checksum_warns_with_the_digest(server, tmp_path):
    path = tmp_path / "data.bin"
    with pytest.warns(UserWarning, match=f"no SHA-256 is pinned.*{PAYLOAD_SHA}"):
        download(server.url + "/data.bin", path, None)
    assert path.read_bytes() == PAYLOAD


@pytest.mark.parametrize("digest", ["abc", "g" * 64])
def test_malformed_digest(digest, tmp_path):
    with pytest.raises(ValueError, match="sha256"):
        download("http://127.0.0.1:9/x", tmp_path / "x", digest)


def test_data_home_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path / "cache"))
    assert data_home() == tmp_path / "cache"
    monkeypatch.delenv("DLBOOK_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_home() == tmp_path / ".cache" / "dlbook"


# ---------------------------------------------------------------- extract


def make_tar(path, members):
    """``members``: (name, bytes) for files, (name, ("sym" | "hard", target)) for links."""
    with tarfile.open(path, "w:gz" if str(path).endswith("gz") else "w") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, tuple):
                info.type = tarfile.SYMTYPE if content[0] == "sym" else tarfile.LNKTYPE
                info.linkname = content[1]
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return path


def make_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members:
            if isinstance(content, tuple):  # a symbolic link, as Info-ZIP stores one
                info = zipfile.ZipInfo(name)
                info.external_attr = (0o120777 << 16) | 0
                zf.writestr(info, content[1])
            else:
                zf.writestr(zipfile.ZipInfo(name), content)
    return path


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tgz"])
def test_extract_tar(tmp_path, suffix, tar_filter):
    members = [("a/b.txt", b"hello"), ("c.txt", b"x"), ("a/link", ("sym", "b.txt"))]
    archive = make_tar(tmp_path / f"ok{suffix}", members)
    dest = tmp_path / "out"
    assert extract(archive, dest) == dest
    assert (dest / "a" / "b.txt").read_bytes() == b"hello" and (dest / "c.txt").read_bytes() == b"x"
    assert os.readlink(dest / "a" / "link") == "b.txt"


def test_extract_zip_and_gz(tmp_path):
    archive = make_zip(tmp_path / "ok.zip", [("a/b.txt", b"hello")])
    assert (extract(archive, tmp_path / "out") / "a" / "b.txt").read_bytes() == b"hello"
    gz = tmp_path / "data.idx.gz"
    gz.write_bytes(gzip.compress(PAYLOAD))
    out = extract(gz, tmp_path / "plain")
    assert out == tmp_path / "plain" / "data.idx" and out.read_bytes() == PAYLOAD
    assert sorted(p.name for p in out.parent.iterdir()) == ["data.idx"]


HOSTILE = {
    "dot-dot": [("../evil", b"x")],
    "deep dot-dot": [("a/../../evil", b"x")],
    "absolute": [("/tmp/evil", b"x")],
    "symlink out": [("link", ("sym", "../outside"))],
    "absolute symlink": [("link", ("sym", "/etc"))],
    "hard link out": [("link", ("hard", "../outside"))],
    # Each link alone looks harmless; followed one through the other they climb out of dest.
    "chained symlinks": [("b", ("sym", ".")), ("a", ("sym", "b/.."))],
    "write through a symlink": [("d", ("sym", "..")), ("d/evil", b"x")],
}


@pytest.fixture(params=["data filter", "own checks only"])
def tar_filter(request, monkeypatch):
    """Run each tar test with Python's data filter, and without it, as on Python < 3.11.4."""
    if request.param == "own checks only" and hasattr(tarfile, "data_filter"):
        monkeypatch.delattr(tarfile, "data_filter")
    return request.param


@pytest.mark.parametrize("case", HOSTILE)
def test_extract_tar_refuses_escapes(tmp_path, case, tar_filter):
    archive = make_tar(tmp_path / "evil.tar", HOSTILE[case])
    dest = tmp_path / "deep" / "out"
    with pytest.raises(UnsafeArchiveError, match="refusing member"):
        extract(archive, dest)
    assert not (tmp_path / "deep" / "evil").exists() and not (tmp_path / "evil").exists()
    assert [p.name for p in (tmp_path / "deep").iterdir()] == ["out"]


def test_extract_tar_checks_every_name_before_writing_any(tmp_path, tar_filter):
    archive = make_tar(tmp_path / "evil.tar", [("fine.txt", b"x"), ("../evil", b"x")])
    with pytest.raises(UnsafeArchiveError, match="'../evil'"):
        extract(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_extract_tar_refuses_writing_through_an_existing_link(tmp_path, tar_filter):
    dest = tmp_path / "out"
    dest.mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", dest / "d")
    with pytest.raises(UnsafeArchiveError, match="through a link"):
        extract(make_tar(tmp_path / "evil.tar", [("d/evil", b"x")]), dest)
    assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.mark.parametrize(
    "members",
    [[("../evil", b"x")], [("/tmp/evil", b"x")], [("ok", b""), ("link", ("sym", "../../x"))]],
    ids=["dot-dot", "absolute", "symlink out"],
)
def test_extract_zip_refuses_escapes(tmp_path, members):
    dest = tmp_path / "deep" / "out"
    with pytest.raises(UnsafeArchiveError, match="refusing member"):
        extract(make_zip(tmp_path / "evil.zip", members), dest)
    assert list(dest.iterdir()) == []  # refused before anything was written


def test_extract_rejects_unknown_formats(tmp_path):
    (tmp_path / "x.rar").write_bytes(b"")
    with pytest.raises(ValueError, match="archive"):
        extract(tmp_path / "x.rar", tmp_path / "out")

"""Integration tests of configuration and start-up (SPEC.md section 6).

Run by meson as `python3 test_config.py <path to feedbackd>`. Bad
configuration must make the binary exit with code 2 and a message naming
the key, before it binds the port (so no "listening on" line is logged).
"""

import hashlib
import re
import signal
import sqlite3
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import harness  # noqa: E402
from harness import KEYS, LISTENING, Server, free_port  # noqa: E402


def survey():
    return {"customer_id": "config-test", "csat": 5}


def mentions_key(text, key):
    """text names the key, as the file key ('max_body', as a word) or the
    environment name ('FEEDBACKD_MAX_BODY'), in any case."""
    return bool(re.search(rf"(?<![A-Za-z0-9_]){re.escape(key)}(?![A-Za-z0-9_])", text, re.I)
                or ("FEEDBACKD_" + key).lower() in text.lower())


class ConfigTestCase(unittest.TestCase):

    def make_server(self, env=None, args=()):
        server = Server(env=env, args=args)
        self.addCleanup(server.close)
        return server

    def start_server(self, env=None, args=(), files=None):
        server = self.make_server(env, args)
        for relpath, text in (files or {}).items():
            server.write_file(relpath, text)
        return server.start()

    def assert_config_error(self, env=None, args=(), key=None, files=None, text=None):
        """The binary exits 2 without listening; stderr names key (or contains
        text). Returns stderr."""
        server = self.make_server(env, args)
        for relpath, content in (files or {}).items():
            server.write_file(relpath, content)
        try:
            server.start()
        except harness.ServerExited as exited:
            returncode, stderr = exited.returncode, exited.stderr
        else:
            self.fail(f"started on port {server.port} despite the bad configuration")
        self.assertEqual(returncode, 2, stderr)
        self.assertIsNone(LISTENING.search(stderr), "bound the port before failing")
        self.assertTrue(stderr.strip(), "no message on stderr")
        if key is not None:
            self.assertTrue(mentions_key(stderr, key), f"stderr does not name {key!r}:\n{stderr}")
        if text is not None:
            self.assertIn(text, stderr)
        return stderr

    def assert_status(self, server, method, path, status, key, body=None):
        resp = server.request(method, path, body, key=key)
        self.assertEqual(resp.status, status, resp.body)
        return resp


class BadConfigTest(ConfigTestCase):

    def test_bad_port(self):
        for value in ("abc", "70000", "65536", "-1", "80x"):
            with self.subTest(port=value):
                self.assert_config_error({"FEEDBACKD_PORT": value}, key="port")

    def test_bad_log_level(self):
        self.assert_config_error({"FEEDBACKD_LOG_LEVEL": "loud"}, key="log_level")

    def test_bad_auth_value(self):
        self.assert_config_error({"FEEDBACKD_AUTH": "maybe"}, key="auth")

    def test_bad_max_body(self):
        for value in ("abc", "-5", "12kb"):
            with self.subTest(max_body=value):
                self.assert_config_error({"FEEDBACKD_MAX_BODY": value}, key="max_body")

    def test_bad_threads(self):
        self.assert_config_error({"FEEDBACKD_THREADS": "many"}, key="threads")

    def test_unknown_key_in_config_file(self):
        self.assert_config_error(args=["--config", "bad.conf"], key="colour",
                                 files={"bad.conf": "port = 0\ncolour = blue\n"})

    def test_bad_value_in_config_file(self):
        self.assert_config_error({"FEEDBACKD_PORT": None}, ["--config", "bad.conf"], key="port",
                                 files={"bad.conf": "port = eighty\n"})

    def test_line_without_equals_in_config_file(self):
        stderr = self.assert_config_error(args=["--config", "bad.conf"],
                                          files={"bad.conf": "# ok\nport\n"})
        self.assertIn("bad.conf", stderr)

    def test_missing_config_file(self):
        stderr = self.assert_config_error(args=["--config", "missing.conf"])
        self.assertIn("missing.conf", stderr)

    def test_missing_config_file_from_environment(self):
        stderr = self.assert_config_error({"FEEDBACKD_CONFIG": "missing.conf"})
        self.assertIn("missing.conf", stderr)

    def test_auth_on_without_keys(self):
        for env in ({"FEEDBACKD_API_KEYS": None}, {"FEEDBACKD_API_KEYS": ""},
                    {"FEEDBACKD_API_KEYS": None, "FEEDBACKD_AUTH": "on"}):
            with self.subTest(env):
                self.assert_config_error(env, text="FEEDBACKD_API_KEYS")

    def test_bad_api_key_spec_does_not_echo_the_key(self):
        secret = "zz_secret_value_zz"
        for spec in (f"superuser:{secret}", f"ingest:{secret},{secret}",
                     f"admin:sha256:{secret}"):
            with self.subTest(spec=spec.replace(secret, "<secret>")):
                stderr = self.assert_config_error({"FEEDBACKD_API_KEYS": spec}, key="api_keys")
                self.assertNotIn(secret, stderr)

    def test_newer_database_is_refused(self):
        server = self.make_server()
        server.start()
        self.assertEqual(server.stop(), 0)
        with sqlite3.connect(server.db_path) as db:
            db.execute("INSERT INTO schema_migrations(version, name, applied_at) "
                       "VALUES (9999, 'future', 0)")
        db.close()
        with self.assertRaises(harness.ServerExited) as caught:
            server.start()
        self.assertEqual(caught.exception.returncode, 2, caught.exception.stderr)
        self.assertIn("newer", caught.exception.stderr.lower())
        self.assertIsNone(LISTENING.search(caught.exception.stderr))


class GoodConfigTest(ConfigTestCase):

    FILE_KEYS = {"ingest": "file_ingest_key", "read": "file_read_key"}

    def config_text(self, port, keys=None):
        keys = keys or self.FILE_KEYS
        return ("# feedbackd test configuration\n"
                "\n"
                "host = 127.0.0.1\n"
                f"port = {port}\n"
                "   # an indented comment\n"
                f"api_keys = {','.join(f'{s}:{k}' for s, k in keys.items())}\n"
                "log_level = info\n")

    def file_env(self):
        """No environment for what the file sets."""
        return {"FEEDBACKD_HOST": None, "FEEDBACKD_PORT": None, "FEEDBACKD_API_KEYS": None}

    def assert_file_keys_work(self, server):
        self.assert_status(server, "GET", "/v1/responses", 200,
                           "Bearer " + self.FILE_KEYS["read"])
        self.assert_status(server, "POST", "/v1/surveys", 201,
                           "Bearer " + self.FILE_KEYS["ingest"], survey())
        self.assert_status(server, "GET", "/v1/responses", 401, "read")  # test_read_key

    def test_help_exits_0(self):
        result = self.make_server().run(["--help"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("--config", result.stdout + result.stderr)

    def test_config_file_sets_port_and_keys(self):
        port = free_port()
        server = self.start_server(self.file_env(), ["--config", "test.conf"],
                                   {"test.conf": self.config_text(port)})
        self.assertEqual(server.port, port)
        self.assert_file_keys_work(server)

    def test_config_file_from_environment(self):
        port = free_port()
        env = dict(self.file_env(), FEEDBACKD_CONFIG="other.conf")
        server = self.start_server(env, files={"other.conf": self.config_text(port)})
        self.assertEqual(server.port, port)
        self.assert_file_keys_work(server)

    def test_default_config_file_is_read(self):
        port = free_port()
        server = self.start_server(self.file_env(),
                                   files={"config/feedbackd.conf": self.config_text(port)})
        self.assertEqual(server.port, port)
        self.assert_file_keys_work(server)

    def test_environment_overrides_file(self):
        file_port, env_port = free_port(), free_port()
        env = {"FEEDBACKD_PORT": str(env_port), "FEEDBACKD_API_KEYS": "read:env_read_key"}
        server = self.start_server(env, ["--config", "test.conf"],
                                   {"test.conf": self.config_text(file_port)})
        self.assertEqual(server.port, env_port)
        self.assert_status(server, "GET", "/v1/responses", 200, "Bearer env_read_key")
        self.assert_status(server, "GET", "/v1/responses", 401,
                           "Bearer " + self.FILE_KEYS["read"])

    def test_sha256_key(self):
        digest = hashlib.sha256(b"hashed_admin_key").hexdigest()
        server = self.start_server({"FEEDBACKD_API_KEYS": f"admin:sha256:{digest}"})
        self.assert_status(server, "POST", "/v1/surveys", 201, "Bearer hashed_admin_key", survey())
        self.assert_status(server, "GET", "/v1/responses", 200, "Bearer hashed_admin_key")
        self.assert_status(server, "GET", "/v1/responses", 401, "Bearer " + digest)

    def test_max_body_setting(self):
        server = self.start_server({"FEEDBACKD_MAX_BODY": "1024"})
        body = b'{"customer_id": "c-1", "csat": 4}'
        self.assertEqual(server.request("POST", "/v1/surveys", body.ljust(1024)).status, 201)
        # Raw socket: a server that answers 413 early may reset the upload.
        resp = server.raw(harness.build_request("POST", "/v1/surveys", body.ljust(1025), [
            ("Content-Type", "application/json"), ("Content-Length", "1025")]))
        self.assertIsNotNone(resp, "connection closed without a response")
        self.assertEqual(resp.status, 413, resp.body)

    def test_auth_off_serves_v1_without_a_key(self):
        server = self.start_server({"FEEDBACKD_AUTH": "off", "FEEDBACKD_API_KEYS": None})
        created = self.assert_status(server, "POST", "/v1/surveys", 201, None, survey()).body
        self.assertEqual(self.assert_status(server, "GET", f"/v1/responses/{created['id']}",
                                            200, None).body, created)
        listing = self.assert_status(server, "GET", "/v1/responses", 200, None).body
        self.assertEqual(listing["data"], [created])
        warning = server.wait_for_log(lambda line: line.get("level") == "warn")
        self.assertIsNotNone(warning, f"auth off was not logged as a warning:\n"
                                      f"{server.stderr_text}")

    def test_sigterm_exits_0(self):
        server = self.start_server()
        self.assertEqual(server.stop(signal.SIGTERM), 0)

    def test_api_keys_are_not_logged_at_start(self):
        server = self.start_server({"FEEDBACKD_LOG_LEVEL": "debug"})
        self.assert_status(server, "GET", "/healthz", 200, None)
        self.assertEqual(server.stop(), 0)
        for key in KEYS.values():
            self.assertNotIn(key, server.stderr_text)


if __name__ == "__main__":
    harness.main()

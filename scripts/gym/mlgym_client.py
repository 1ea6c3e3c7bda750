"""A dependency-free client of the mlgym Gym server (`mlgym serve`).

Standard library only (urllib). The API mirrors MLGym's Gym environment:

    from mlgym_client import Client

    client = Client("http://127.0.0.1:8765")          # token: $MLGYM_GYM_TOKEN or token=
    ep = client.create("battleOfSexes", seed=0, attach=True)
    print(ep.observation)                             # task prompt + status footer
    obs, reward, done, info = ep.step("validate")
    ep.close()                                        # sandbox ended, records complete

`attach=True` opens the episode's attach stream in a background thread: if this
process dies or loses the connection, the server closes the episode and ends its
sandbox at once instead of waiting for its idle timeout.

Errors from the server raise `GymError` with the HTTP status and the server's message.
"""

import json
import os
import threading
import urllib.error
import urllib.request

__all__ = ["Client", "Episode", "GymError"]


class GymError(Exception):
    """An error answered by the server (`status` is the HTTP status, 0 if unreachable)."""

    def __init__(self, status, message):
        super().__init__("HTTP %d: %s" % (status, message) if status else message)
        self.status = status
        self.message = message


class Client:
    """A connection to one server. Thread-safe: each call is its own HTTP request."""

    def __init__(self, url, token=None, timeout=3600.0):
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("MLGYM_GYM_TOKEN")
        self.timeout = timeout

    def _headers(self):
        h = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        return h

    def request(self, method, path, body=None):
        """Sends one request and returns the decoded JSON answer, or raises GymError."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=self._headers())
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            try:
                message = json.loads(text).get("error", text)
            except ValueError:
                message = text
            raise GymError(e.code, message) from None
        except urllib.error.URLError as e:
            raise GymError(0, "cannot reach %s: %s" % (self.url, e.reason)) from None

    def health(self):
        """`GET /healthz`."""
        return self.request("GET", "/healthz")

    def episodes(self):
        """The open episodes (`GET /episodes`)."""
        return self.request("GET", "/episodes")["episodes"]

    def create(self, task, seed=0, max_steps=None, reward=None, command_timeout=None, model=None, attach=False):
        """Creates and resets an episode; returns an `Episode` holding the first observation."""
        body = {"task": task, "seed": seed}
        for k, v in (("max_steps", max_steps), ("reward", reward), ("command_timeout", command_timeout), ("model", model)):
            if v is not None:
                body[k] = v
        answer = self.request("POST", "/episodes", body)
        ep = Episode(self, answer)
        if attach:
            ep.attach()
        return ep


class Episode:
    """One episode on the server: `reset`, `step`, `close` (also a context manager)."""

    def __init__(self, client, answer):
        self.client = client
        self.id = answer["id"]
        self.system = answer["system"]
        self.observation = answer["observation"]
        self.info = answer["info"]
        self.done = False
        self._attach_thread = None
        self._attach_resp = None
        self.events = []

    def reset(self, task=None, seed=None):
        """Starts a new episode in this slot; returns `(observation, info)`."""
        body = {}
        if task is not None:
            body["task"] = task
        if seed is not None:
            body["seed"] = seed
        answer = self.client.request("POST", "/episodes/%s/reset" % self.id, body)
        self.system, self.observation, self.info, self.done = answer["system"], answer["observation"], answer["info"], False
        return self.observation, self.info

    def step(self, action=None, response=None):
        """Runs one action (or a raw model response); returns `(observation, reward, done, info)`."""
        body = {}
        if action is not None:
            body["action"] = action
        if response is not None:
            body["response"] = response
        answer = self.client.request("POST", "/episodes/%s/step" % self.id, body)
        self.observation, self.info, self.done = answer["observation"], answer["info"], answer["done"]
        return answer["observation"], answer["reward"], answer["done"], answer["info"]

    def keepalive(self):
        """Renews the idle lease without acting."""
        return self.client.request("POST", "/episodes/%s/keepalive" % self.id)

    def close(self):
        """Closes the episode; returns the final info (None if it was already closed)."""
        try:
            answer = self.client.request("DELETE", "/episodes/%s" % self.id)
        except GymError as e:
            if e.status == 404:
                return None
            raise
        finally:
            self._detach()
        self.info = answer.get("info") or self.info
        return self.info

    def attach(self):
        """Opens the attach stream in a daemon thread (events are appended to `events`)."""
        if self._attach_thread is not None:
            return
        req = urllib.request.Request(self.client.url + "/episodes/%s/attach" % self.id, headers=self.client._headers())
        self._attach_resp = urllib.request.urlopen(req, timeout=None)

        def read():
            try:
                for line in self._attach_resp:
                    if line.strip():
                        self.events.append(json.loads(line.decode("utf-8")))
            except Exception:  # the connection closed under us: the stream is over
                pass

        self._attach_thread = threading.Thread(target=read, name="attach-" + self.id, daemon=True)
        self._attach_thread.start()

    def _detach(self):
        # After a close the server ends the stream with a `closed` event; give the reader
        # a moment to see it before the connection is dropped.
        thread, self._attach_thread = self._attach_thread, None
        if thread is not None:
            thread.join(timeout=5)
        resp, self._attach_resp = self._attach_resp, None
        if resp is not None:
            try:
                resp.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

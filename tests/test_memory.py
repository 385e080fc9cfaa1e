"""Large request bodies do not leave the proxy process bloated: eight concurrent 20 MB bodies
raise its RSS while they are held, and it falls back within seconds of the last one."""

from __future__ import annotations

import concurrent.futures
import json
import time

import httpx
import pytest

from tests.test_spend_durability import serving_proxy

pytestmark = pytest.mark.slow


def rss_mb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) // 1024


def test_memory_comes_back_after_a_burst_of_large_bodies(tmp_path, mock_provider):
    with serving_proxy(tmp_path, mock_provider.url) as (url, key, proc):
        headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
        small = json.dumps({"model": "openai/gpt-4o", "max_tokens": 5,
                            "messages": [{"role": "user", "content": "warm up"}]})
        httpx.post(url + "/v1/chat/completions", content=small, headers=headers, timeout=30)
        before = rss_mb(proc.pid)
        big = json.dumps({"model": "openai/gpt-4o", "max_tokens": 5, "messages": [
            {"role": "user", "content": "x" * (20 * 1024 * 1024)}]}).encode()
        peak = 0
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            sent = [pool.submit(httpx.post, url + "/v1/chat/completions", content=big,
                                headers=headers, timeout=120) for _ in range(8)]
            while not all(f.done() for f in sent):
                peak = max(peak, rss_mb(proc.pid))
                time.sleep(0.05)
            assert all(f.result().status_code in (200, 402) for f in sent)
        time.sleep(3)
        after = rss_mb(proc.pid)
        assert peak - before > 100, (before, peak)  # the bodies really were held
        assert after - before < 100, f"RSS {before} MB before, {peak} at peak, {after} after"

"""Fail a deploy whose GitHub Environment is not protected by required reviewers.

    github_environment_check.py --environment prod     (in a job: GITHUB_REPOSITORY, GITHUB_API_URL, GH_TOKEN)

GitHub creates an environment a job names on the fly, with no protection rules: a typo, a deleted environment
or a repository where the rules were never set would let a staging/prod deploy run without anybody approving
it. The first step of those deploy jobs reads the environment through the REST API
(GET /repos/{owner}/{repo}/environments/{name}; the job's GITHUB_TOKEN with `actions: read`) and stops
unless a `required_reviewers` rule with at least one reviewer exists. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


def protection_problems(environment: dict[str, Any]) -> list[str]:
    """Why this environment must not be deployed to (empty: protected). Pure: unit-tested on API answers."""
    name = environment.get("name", "?")
    rules = environment.get("protection_rules") or []
    reviewers = [r for r in rules if r.get("type") == "required_reviewers"]
    if not reviewers:
        return [
            f"environment {name!r} has no required reviewers: add them in Settings > Environments > {name} "
            "(GitHub creates unknown environments unprotected)"
        ]
    if not any(r.get("reviewers") for r in reviewers):
        return [f"environment {name!r} has a required-reviewers rule with nobody in it"]
    return []


def warnings(environment: dict[str, Any]) -> list[str]:
    """Weaker settings worth a look, not a failure."""
    out = []
    if environment.get("deployment_branch_policy") is None:
        out.append("no deployment branch policy: any branch can request this environment (set it to main)")
    if environment.get("can_admins_bypass", True):
        out.append("administrators can bypass the required reviewers")
    return out


def fetch_environment(api: str, repository: str, name: str, token: str) -> dict[str, Any]:
    url = f"{api.rstrip('/')}/repos/{repository}/environments/{urllib.parse.quote(name, safe='')}"
    request = urllib.request.Request(  # noqa: S310 (https API URL from the runner, or a test server)
        url,
        headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            data: dict[str, Any] = json.load(response)
            return data
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise SystemExit(
                f"environment {name!r} does not exist in {repository}: create it with required reviewers"
            ) from None
        raise SystemExit(
            f"cannot read environment {name!r} of {repository}: HTTP {exc.code} "
            "(the job needs `permissions: actions: read`)"
        ) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--environment", required=True)
    args = parser.parse_args(argv)
    missing = [v for v in ("GITHUB_REPOSITORY", "GH_TOKEN") if not os.environ.get(v)]
    if missing:
        raise SystemExit(
            f"set {', '.join(missing)} (GitHub Actions sets GITHUB_REPOSITORY; GH_TOKEN: github.token)"
        )
    env = fetch_environment(
        os.environ.get("GITHUB_API_URL", "https://api.github.com"),
        os.environ["GITHUB_REPOSITORY"],
        args.environment,
        os.environ["GH_TOKEN"],
    )
    for warning in warnings(env):
        print(f"::warning::{args.environment}: {warning}")
    problems = protection_problems(env)
    for problem in problems:
        print(f"::error::{problem}")
    if problems:
        return 1
    print(f"environment {args.environment!r} is protected by required reviewers")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Remote state: one S3 key per environment and stack, native S3 locking (use_lockfile), SSE."""

from __future__ import annotations

from cdktn import S3Backend, TerraformStack

from cardinfra.config import EnvConfig, state_key

__all__ = ["state_key", "use_s3_backend"]


def use_s3_backend(stack: TerraformStack, cfg: EnvConfig, name: str) -> None:
    """The state bucket is bootstrapped once per account (docs/infra.md); state is never local."""
    S3Backend(
        stack,
        bucket=cfg.state_bucket,
        key=state_key(cfg, name),
        region=cfg.region,
        encrypt=True,
        use_lockfile=True,
    )

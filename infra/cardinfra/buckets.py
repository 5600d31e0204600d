"""A secure S3 bucket: public access blocked, SSE-KMS, versioning, TLS-only policy, lifecycle, access logs."""

from __future__ import annotations

from dataclasses import dataclass

from cdktn_provider_aws.s3_bucket import S3Bucket
from cdktn_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
    S3BucketLifecycleConfigurationRuleTransition,
)
from cdktn_provider_aws.s3_bucket_logging import S3BucketLoggingA
from cdktn_provider_aws.s3_bucket_ownership_controls import (
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
)
from cdktn_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktn_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktn_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktn_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from constructs import Construct

from cardinfra.policies import Statement, tls_only_bucket_policy


@dataclass(frozen=True)
class Lifecycle:
    """Transitions of current objects (days -> storage class) and expiry of noncurrent versions."""

    noncurrent_days: int
    to_ia_days: int | None = None
    to_glacier_days: int | None = None


class SecureBucket(Construct):
    """Every bucket of the platform is built here, so no bucket can miss a control."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        kms_key_arn: str | None,
        lifecycle: Lifecycle,
        log_bucket: SecureBucket | None,
        force_destroy: bool,
        extra_policy: list[Statement] | None = None,
    ) -> None:
        """`kms_key_arn=None` means SSE-S3: only for the access-log bucket (log delivery needs SSE-S3)."""
        super().__init__(scope, id_)
        self.bucket = S3Bucket(self, "bucket", bucket=name, force_destroy=force_destroy)
        bid = self.bucket.id
        S3BucketPublicAccessBlock(
            self,
            "public-access-block",
            bucket=bid,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        S3BucketOwnershipControls(
            self,
            "ownership",
            bucket=bid,
            rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        )
        S3BucketServerSideEncryptionConfigurationA(
            self,
            "sse",
            bucket=bid,
            rule=[
                S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=(
                        S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                            sse_algorithm="aws:kms" if kms_key_arn else "AES256",
                            kms_master_key_id=kms_key_arn,
                        )
                    ),
                    bucket_key_enabled=True if kms_key_arn else None,
                )
            ],
        )
        S3BucketVersioningA(
            self,
            "versioning",
            bucket=bid,
            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
        )
        self.policy = S3BucketPolicy(
            self, "tls-only", bucket=bid, policy=tls_only_bucket_policy(self.bucket.arn, extra_policy)
        )
        transitions = [
            S3BucketLifecycleConfigurationRuleTransition(days=days, storage_class=cls)
            for days, cls in (
                (lifecycle.to_ia_days, "STANDARD_IA"),
                (lifecycle.to_glacier_days, "GLACIER_IR"),
            )
            if days is not None
        ]
        S3BucketLifecycleConfiguration(
            self,
            "lifecycle",
            bucket=bid,
            rule=[
                S3BucketLifecycleConfigurationRule(
                    id="tiering-and-noncurrent-expiry",
                    status="Enabled",
                    filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                    transition=transitions or None,
                    noncurrent_version_expiration=[
                        S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                            noncurrent_days=lifecycle.noncurrent_days
                        )
                    ],
                    abort_incomplete_multipart_upload=[
                        S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                            days_after_initiation=7
                        )
                    ],
                )
            ],
        )
        if log_bucket is not None:
            # S3 refuses a logging target until its policy grants the logging service: create that first.
            S3BucketLoggingA(
                self,
                "access-logging",
                bucket=bid,
                target_bucket=log_bucket.bucket.id,
                target_prefix=f"{name}/",
                depends_on=[log_bucket.policy],
            )

    @property
    def arn(self) -> str:
        return self.bucket.arn

    @property
    def name(self) -> str:
        return self.bucket.bucket

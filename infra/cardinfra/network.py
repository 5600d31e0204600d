"""Security groups of the ingestion Lambda, the broker and MWAA, each rule its own resource.

Rules are separate `aws_vpc_security_group_*_rule` resources so groups can reference each other (the Lambda's
egress to the broker, the broker's ingress from the Lambda) without a dependency cycle. The provider removes
AWS's default allow-all egress when it creates a group, so only these rules exist:
- HTTPS (443) out to anywhere from the Lambda and MWAA: AWS APIs through the NAT gateway or the S3 gateway
  endpoint's prefix list, and Snowflake, whose addresses are not fixed. Nothing else leaves the VPC.
- AMQPS (5671) to the broker only from the Lambda, MWAA and the producers' CIDRs; its HTTPS console (443) only
  from inside the VPC. Separate rules: a 443-5671 range would open every port in between.
- PostgreSQL (5432) from MWAA to the journal (inside the VPC), MWAA's components to each other (self).
"""

from __future__ import annotations

from cdktn_provider_aws.security_group import SecurityGroup
from cdktn_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktn_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from cardinfra.config import EnvConfig
from cardinfra.names import names

HTTPS = 443
POSTGRES = 5432
ANYWHERE = "0.0.0.0/0"


class SecurityGroups(Construct):
    def __init__(self, scope: Construct, id_: str, cfg: EnvConfig) -> None:
        super().__init__(scope, id_)
        net = cfg.network

        def group(key: str, description: str) -> SecurityGroup:
            return SecurityGroup(
                self,
                key,
                name=cfg.name(key),
                description=description,
                vpc_id=net.vpc_id,
                tags={"Name": cfg.name(key)},
            )

        self.lambda_ = group("ingest-lambda", "Ingestion Lambda: AMQPS to the broker, HTTPS to AWS APIs")
        self.broker = group(
            "broker", "Amazon MQ: AMQPS from ingestion, MWAA and producers; console from the VPC"
        )
        self.mwaa = group(
            "mwaa", "MWAA: its components, HTTPS out, AMQPS to the broker, the journal database"
        )

        self._egress("lambda-https", self.lambda_, HTTPS, "HTTPS to AWS APIs (S3, KMS, Secrets Manager, SQS)")
        self._egress("lambda-amqps", self.lambda_, names.AMQPS_PORT, "AMQPS to the broker", to=self.broker)
        self._egress("mwaa-https", self.mwaa, HTTPS, "HTTPS to AWS APIs and Snowflake")
        self._egress("mwaa-amqps", self.mwaa, names.AMQPS_PORT, "AMQPS to the broker", to=self.broker)
        self._egress("mwaa-journal", self.mwaa, POSTGRES, "PostgreSQL event journal", cidr=net.vpc_cidr)
        VpcSecurityGroupIngressRule(
            self,
            "mwaa-self-in",
            security_group_id=self.mwaa.id,
            ip_protocol="-1",
            referenced_security_group_id=self.mwaa.id,
            description="MWAA components talk to each other (required by MWAA)",
        )
        VpcSecurityGroupEgressRule(
            self,
            "mwaa-self-out",
            security_group_id=self.mwaa.id,
            ip_protocol="-1",
            referenced_security_group_id=self.mwaa.id,
            description="MWAA components talk to each other (required by MWAA)",
        )
        for key, source in (("lambda", self.lambda_), ("mwaa", self.mwaa)):
            VpcSecurityGroupIngressRule(
                self,
                f"broker-amqps-from-{key}",
                security_group_id=self.broker.id,
                ip_protocol="tcp",
                from_port=names.AMQPS_PORT,
                to_port=names.AMQPS_PORT,
                referenced_security_group_id=source.id,
                description=f"AMQPS from {key}",
            )
        for index, cidr in enumerate(net.broker_client_cidrs):
            VpcSecurityGroupIngressRule(
                self,
                f"broker-amqps-producers-{index}",
                security_group_id=self.broker.id,
                ip_protocol="tcp",
                from_port=names.AMQPS_PORT,
                to_port=names.AMQPS_PORT,
                cidr_ipv4=cidr,
                description="AMQPS from the producing services",
            )
        VpcSecurityGroupIngressRule(
            self,
            "broker-console",
            security_group_id=self.broker.id,
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            cidr_ipv4=net.vpc_cidr,
            description="RabbitMQ management console and API from inside the VPC",
        )

    def _egress(
        self,
        id_: str,
        group: SecurityGroup,
        port: int,
        description: str,
        *,
        to: SecurityGroup | None = None,
        cidr: str = ANYWHERE,
    ) -> None:
        VpcSecurityGroupEgressRule(
            self,
            id_,
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=to.id if to is not None else None,
            cidr_ipv4=None if to is not None else cidr,
            description=description,
        )

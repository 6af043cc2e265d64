"""infra/terraform: init + validate, a plan per environment, and apply + destroy against moto (S3, IAM, Glue, ...).

Needs the terraform binary and the AWS provider in the local filesystem mirror (/opt/tf-plugins, or
AUTOCORP_TF_PLUGIN_MIRROR); skipped with the reason when either is missing. The apply runs in the
background from the start of the module, because the AWS provider polls a new bucket lifecycle
configuration for ~50 s before it calls it created; the plans run meanwhile.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from autocorp.catalog.sync import sync_catalog
from autocorp.lake.storage import lake_storage
from autocorp.settings import load_settings

INFRA = Path(__file__).resolve().parents[2] / "infra" / "terraform"
MIRROR = Path(os.environ.get("AUTOCORP_TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
TERRAFORM = shutil.which("terraform")
PROVIDER = MIRROR / "registry.terraform.io" / "hashicorp" / "aws"

pytestmark = [
    pytest.mark.skipif(TERRAFORM is None, reason="terraform binary not on PATH"),
    pytest.mark.skipif(not PROVIDER.is_dir(), reason=f"no hashicorp/aws provider in the plugin mirror {MIRROR}"),
]

LOCAL_BACKEND = 'terraform {\n  backend "local" {}\n}\n'
# what each environment's tfvars promise, read back from the plan
ENVS = {"dev": {"force_destroy": True, "logs_days": 14, "noncurrent_days": 7, "recovery_days": 0},
        "staging": {"force_destroy": False, "logs_days": 30, "noncurrent_days": 14, "recovery_days": 7},
        "prod": {"force_destroy": False, "logs_days": 365, "noncurrent_days": 30, "recovery_days": 30}}
CREATED_TYPES = {"aws_s3_bucket", "aws_s3_bucket_ownership_controls", "aws_s3_bucket_public_access_block",
                 "aws_s3_bucket_versioning", "aws_s3_bucket_server_side_encryption_configuration",
                 "aws_s3_bucket_lifecycle_configuration", "aws_secretsmanager_secret", "aws_glue_catalog_database",
                 "aws_athena_workgroup", "aws_iam_role", "aws_iam_policy", "aws_iam_role_policy_attachment",
                 "aws_iam_instance_profile"}


@dataclass
class Terraform:
    """terraform in one working copy of infra/terraform, with the mirror-only CLI config."""

    workdir: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert TERRAFORM is not None
        proc = subprocess.run([TERRAFORM, *args, "-no-color"], cwd=self.workdir, env=self.env, text=True,
                              capture_output=True, timeout=timeout)
        if check and proc.returncode != 0:
            pytest.fail(f"terraform {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                        f"{proc.stderr[-3000:]}")
        return proc

    def start(self, *args: str) -> subprocess.Popen[str]:
        assert TERRAFORM is not None
        return subprocess.Popen([TERRAFORM, *args, "-no-color"], cwd=self.workdir, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _working_copy(dst: Path, env: dict[str, str], local_backend: bool) -> Terraform:
    shutil.copytree(INFRA, dst, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*.plan"))
    if local_backend:  # the committed backend is S3; tests keep state in the temp dir
        (dst / "backend_override.tf").write_text(LOCAL_BACKEND)
    return Terraform(dst, env)


@pytest.fixture(scope="module")
def tf_env(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> dict[str, str]:
    cfg = tmp_path_factory.mktemp("tfcli") / "cli.tfrc"
    cfg.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "AWS_"))}
    env.update(TF_CLI_CONFIG_FILE=str(cfg), TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1",
               AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               TF_VAR_aws_endpoint=s3_endpoint)
    return env


@dataclass
class Applied:
    tf: Terraform
    proc: subprocess.Popen[str]
    name: str
    endpoint: str
    destroyed: bool = False

    def wait(self) -> str:
        out, _ = self.proc.communicate(timeout=240)
        assert self.proc.returncode == 0, f"terraform apply failed:\n{out[-4000:]}"
        return out


@pytest.fixture(scope="module", autouse=True)
def applied(tmp_path_factory: pytest.TempPathFactory, tf_env: dict[str, str], s3_endpoint: str) -> Iterator[Applied]:
    """`terraform apply` of dev (names made unique) started in the background; destroyed at the end if left."""
    name = f"tf{uuid.uuid4().hex[:8]}"
    env = {**tf_env, "TF_VAR_source_dsn": "postgresql://autocorp:not-in-code@db.internal:5432/autocorp"}
    tf = _working_copy(tmp_path_factory.mktemp("apply") / "tf", env, local_backend=True)
    tf.run("init", "-input=false")
    proc = tf.start("apply", "-auto-approve", "-input=false", "-var-file=environments/dev.tfvars",
                    f"-var=env={name}", f"-var=bucket_name=autocorp-{name}-lake")
    state = Applied(tf, proc, name, s3_endpoint)
    yield state
    if proc.poll() is None:
        proc.wait(240)
    if not state.destroyed:
        _empty_bucket(s3_endpoint, f"autocorp-{name}-lake")
        tf.run("destroy", "-auto-approve", "-input=false", "-var-file=environments/dev.tfvars",
               f"-var=env={name}", f"-var=bucket_name=autocorp-{name}-lake", check=False)


def _empty_bucket(endpoint: str, bucket: str) -> None:
    """Delete every object version (moto cannot force-destroy a versioned bucket with delete markers)."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    try:
        versions = s3.list_object_versions(Bucket=bucket).get("Versions", [])
    except s3.exceptions.NoSuchBucket:
        return
    for v in versions:
        s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])


@pytest.fixture(scope="module")
def planner(tmp_path_factory: pytest.TempPathFactory, tf_env: dict[str, str]) -> Terraform:
    tf = _working_copy(tmp_path_factory.mktemp("plan") / "tf", tf_env, local_backend=True)
    tf.run("init", "-input=false")
    return tf


def test_init_without_backend_validate_and_fmt(tmp_path: Path, tf_env: dict[str, str]) -> None:
    for part in ("", "bootstrap"):
        tf = _working_copy(tmp_path / "tf", tf_env, local_backend=False)
        tf.workdir = tf.workdir / part if part else tf.workdir
        init = tf.run("init", "-backend=false", "-input=false")
        assert "hashicorp/aws v5.100.0" in init.stdout
        result = json.loads(tf.run("validate", "-json").stdout)
        assert result["valid"] and result["error_count"] == 0, result
        shutil.rmtree(tmp_path / "tf")
    assert Terraform(INFRA, tf_env).run("fmt", "-check", "-recursive", check=False).returncode == 0, \
        "run `terraform fmt -recursive infra/terraform`"


def _plan(tf: Terraform, env: str) -> dict[str, Any]:
    tf.run("plan", "-input=false", f"-var-file=environments/{env}.tfvars", f"-out={env}.plan")
    plan: dict[str, Any] = json.loads(tf.run("show", "-json", f"{env}.plan").stdout)
    return plan


def _after(plan: dict[str, Any], address: str) -> dict[str, Any]:
    change = next(rc for rc in plan["resource_changes"] if rc["address"] == address)
    after: dict[str, Any] = change["change"]["after"]
    return after


@pytest.mark.parametrize("env", list(ENVS))
def test_plan_creates_the_lake_for_each_environment(planner: Terraform, env: str) -> None:
    plan = _plan(planner, env)
    managed = [rc for rc in plan["resource_changes"] if rc["mode"] == "managed"]
    assert {rc["type"] for rc in managed} == CREATED_TYPES
    assert all(rc["change"]["actions"] == ["create"] for rc in managed)
    assert not any(rc["type"] == "aws_secretsmanager_secret_version" for rc in managed), "DSN value must not be in code"

    want = ENVS[env]
    bucket = _after(plan, "module.s3.aws_s3_bucket.lake")
    assert bucket["bucket"] == f"autocorp-{env}-lake-123456789012" and bucket["force_destroy"] is want["force_destroy"]
    rules = {r["id"]: r for r in _after(plan, "module.s3.aws_s3_bucket_lifecycle_configuration.lake")["rule"]}
    raw = rules["raw-data-to-glacier"]
    assert raw["filter"][0]["prefix"] == "lake/raw/database/"
    assert (raw["transition"][0]["days"], raw["transition"][0]["storage_class"]) == (90, "GLACIER")
    assert rules["logs-expiry"]["filter"][0]["prefix"] == "lake/logs/"
    assert rules["logs-expiry"]["expiration"][0]["days"] == want["logs_days"]
    noncurrent = rules["noncurrent-versions"]["noncurrent_version_expiration"][0]
    assert noncurrent["noncurrent_days"] == want["noncurrent_days"]
    assert _after(plan, "module.s3.aws_s3_bucket_versioning.lake")["versioning_configuration"][0]["status"] == "Enabled"
    assert _after(plan, "module.secrets.aws_secretsmanager_secret.source_dsn")["recovery_window_in_days"] == \
        want["recovery_days"]
    wg = _after(plan, "module.glue.aws_athena_workgroup.lake[0]")["configuration"][0]
    assert wg["result_configuration"][0]["output_location"] == f"s3://autocorp-{env}-lake-123456789012/lake/logs/athena/"

    policy = json.loads(_after(plan, "module.iam.aws_iam_policy.pipeline")["policy"])
    resources = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    assert resources["ReadWriteLakeObjects"] == f"arn:aws:s3:::autocorp-{env}-lake-123456789012/lake/*"
    listing = next(s for s in policy["Statement"] if s["Sid"] == "ListLakePrefix")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["lake", "lake/*"]}}
    head = next(s for s in policy["Statement"] if s["Sid"] == "HeadLakeBucket")  # Storage.check() -> HeadBucket
    assert head["Condition"] == {"Null": {"s3:prefix": "true"}}
    assert resources["ReadSourceDsn"] == \
        f"arn:aws:secretsmanager:us-east-1:123456789012:secret:autocorp/{env}/source-dsn-??????"
    glue_arn = "arn:aws:glue:us-east-1:123456789012"
    assert sorted(resources["GlueCuratedTables"]) == [f"{glue_arn}:catalog", f"{glue_arn}:database/autocorp_{env}",
                                                      f"{glue_arn}:table/autocorp_{env}/*"]

    outputs = plan["planned_values"]["outputs"]
    assert outputs["autocorp_env"]["value"] == {
        "AUTOCORP_ENV": env, "AUTOCORP_LAKE__ROOT": f"s3://autocorp-{env}-lake-123456789012/lake",
        "AUTOCORP_LAKE__S3_REGION": "us-east-1", "AUTOCORP_CATALOG__DATABASE": f"autocorp_{env}",
        "AUTOCORP_CATALOG__REGION": "us-east-1"}


def test_apply_on_moto_then_catalog_sync_then_destroy(applied: Applied) -> None:
    applied.wait()
    tf, name, endpoint = applied.tf, applied.name, applied.endpoint
    out = {k: v["value"] for k, v in json.loads(tf.run("output", "-json").stdout).items()}
    bucket, database = f"autocorp-{name}-lake", f"autocorp_{name}"
    assert out["lake_root"] == f"s3://{bucket}/lake" and out["glue_database"] == database

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["raw-data-to-glacier"]["Transitions"] == [{"Days": 90, "StorageClass": "GLACIER"}]
    assert rules["raw-data-to-glacier"]["Filter"]["Prefix"] == "lake/raw/database/"
    assert rules["logs-expiry"]["Expiration"]["Days"] == 14
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
    glue = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1")
    assert glue.get_database(Name=database)["Database"]["LocationUri"] == f"s3://{bucket}/lake/curated"
    secrets = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1")
    assert secrets.get_secret_value(SecretId=out["source_dsn_secret_arn"])["SecretString"].endswith("/autocorp")
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    assert iam.get_role(RoleName=f"autocorp-{name}-pipeline")["Role"]["Arn"] == out["pipeline_role_arn"]
    attached = iam.list_attached_role_policies(RoleName=f"autocorp-{name}-pipeline")["AttachedPolicies"]
    arn = attached[0]["PolicyArn"]
    doc = iam.get_policy_version(PolicyArn=arn, VersionId=iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"])
    statements = doc["PolicyVersion"]["Document"]["Statement"]
    secret_grant = next(s["Resource"] for s in statements if s["Sid"] == "ReadSourceDsn")
    assert fnmatch.fnmatchcase(out["source_dsn_secret_arn"], secret_grant), "the policy misses the real secret ARN"

    # the outputs are the settings: write a curated table there and register it in the Terraform-made database
    env = out["autocorp_env"]
    settings = load_settings("dev", lake={"root": env["AUTOCORP_LAKE__ROOT"], "s3_endpoint": endpoint,
                                          "s3_region": env["AUTOCORP_LAKE__S3_REGION"]},
                             catalog={"database": env["AUTOCORP_CATALOG__DATABASE"], "endpoint": endpoint})
    storage = lake_storage(settings)
    write_deltalake(storage.uri("curated/part"), pa.table({"part_id": [1]}), storage_options=storage.storage_options())
    report = sync_catalog(settings)
    assert not report.database_created and [(t.table, t.action) for t in report.tables] == [("part", "created")]
    assert glue.get_table(DatabaseName=database, Name="part")["Table"]["Parameters"]["table_type"] == "DELTA"

    _empty_bucket(endpoint, bucket)
    tf.run("destroy", "-auto-approve", "-input=false", "-var-file=environments/dev.tfvars", f"-var=env={name}",
           f"-var=bucket_name={bucket}")
    applied.destroyed = True
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert database not in {d["Name"] for d in glue.get_databases()["DatabaseList"]}

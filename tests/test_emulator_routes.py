"""The emulator's three routes: labkit's own services, git's reserved path, and moto for the rest."""

import json
import urllib.request

import pytest
from botocore.exceptions import ClientError


def test_health_reports_version_and_uptime(emulator):
    with urllib.request.urlopen(f"{emulator.url}/_labkit/health") as resp:
        health = json.loads(resp.read())
    assert health["status"] == "ok"
    assert health["version"]
    assert health["uptime"] >= 0
    assert health["port"] == emulator.port


@pytest.mark.parametrize("service, operation, key", [
    ("codecommit", "list_repositories", "repositories"),
    ("codebuild", "list_projects", "projects"),
    ("codedeploy", "list_applications", "applications"),
    ("codepipeline", "list_pipelines", "pipelines"),
])
def test_owned_services_answer_through_labkit(aws, service, operation, key):
    response = getattr(aws(service), operation)()
    assert isinstance(response[key], list)


def test_not_emulated_operation_names_itself_and_the_supported_list(aws):
    with pytest.raises(ClientError) as err:
        # Comment reactions stay unemulated (see docs/emulator.md, CodeCommit).
        aws("codecommit").put_comment_reaction(commentId="c", reactionValue=":thumbsup:")
    error = err.value.response["Error"]
    assert error["Code"] == "NotImplementedException"
    assert "PutCommentReaction" in error["Message"]
    assert "Supported operations:" in error["Message"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unknown_operation_of_an_owned_service(emulator):
    request = urllib.request.Request(
        emulator.url, data=b"{}", method="POST",
        headers={"X-Amz-Target": "CodePipeline_20150709.NoSuchThing",
                 "Content-Type": "application/x-amz-json-1.1"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request)
    body = json.loads(err.value.read())
    assert err.value.code == 400
    assert body["__type"] == "UnknownOperationException"
    assert "NoSuchThing" in body["message"]


def test_owned_service_rejects_input_that_breaks_the_model(emulator):
    request = urllib.request.Request(
        emulator.url, data=b'{"nextToken": 5, "bogus": 1}', method="POST",
        headers={"X-Amz-Target": "CodeBuild_20161006.ListProjects",
                 "Content-Type": "application/x-amz-json-1.1"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request)
    body = json.loads(err.value.read())
    assert body["__type"] == "InvalidInputException"
    assert "bogus" in body["message"] and "nextToken" in body["message"]


def test_moto_route_serves_s3(aws):
    s3 = aws("s3")
    s3.create_bucket(Bucket="labkit-route-test")
    s3.put_object(Bucket="labkit-route-test", Key="hello.txt", Body=b"hi")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "labkit-route-test" in names
    assert s3.get_object(Bucket="labkit-route-test", Key="hello.txt")["Body"].read() == b"hi"


def test_git_path_is_reserved(emulator):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{emulator.url}/v1/repos/none/info/refs?service=git-upload-pack")
    assert err.value.code == 404


def test_unknown_internal_endpoint_is_a_clear_404(emulator):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{emulator.url}/_labkit/nope")
    assert err.value.code == 404
    assert "Known:" in json.loads(err.value.read())["message"]

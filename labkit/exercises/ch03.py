"""Chapter 03's exercise: a custom deployment configuration that keeps one host healthy."""

from __future__ import annotations

from labkit.exercises import Exercise, NotAttempted, Wrong


def config_name(lab) -> str:
    return f"{lab.prefix}-keep-one-healthy"


def _check_config(lab, answer) -> str:
    client = lab.client("codedeploy")
    name = config_name(lab)
    try:
        info = client.get_deployment_config(deploymentConfigName=name)["deploymentConfigInfo"]
    except client.exceptions.DeploymentConfigDoesNotExistException:
        raise NotAttempted(f"There is no deployment configuration named {name} yet.") from None
    healthy = info.get("minimumHealthyHosts") or {}
    if info.get("computePlatform", "Server") != "Server":
        raise Wrong(f"{name} is for {info['computePlatform']}; EC2 deployments need computePlatform Server.")
    if healthy.get("type") != "HOST_COUNT":
        raise Wrong(f"{name} counts healthy hosts as {healthy.get('type')}; the task asks for a number of "
                    "hosts (HOST_COUNT), not a percentage.")
    if healthy.get("value") != 1:
        raise Wrong(f"{name} keeps {healthy.get('value')} hosts healthy; the task asks for exactly 1.")
    return f"{name} keeps one host healthy, so on three hosts it deploys to two at a time."


def _solve_config(lab) -> None:
    client = lab.client("codedeploy")
    try:
        client.create_deployment_config(deploymentConfigName=config_name(lab), computePlatform="Server",
                                        minimumHealthyHosts={"type": "HOST_COUNT", "value": 1})
    except client.exceptions.DeploymentConfigAlreadyExistsException:
        pass


EXERCISES = [
    Exercise(
        name="keep_one_healthy", chapter="03",
        task="Create a deployment configuration named <prefix>-keep-one-healthy that keeps at least "
             "one host healthy (HOST_COUNT 1).",
        checker=_check_config,
        hints=("create_deployment_config takes deploymentConfigName, computePlatform and minimumHealthyHosts.",
               'minimumHealthyHosts={"type": "HOST_COUNT", "value": 1}'),
        solution_code="""
            codedeploy.create_deployment_config(
                deploymentConfigName=f"{lab.prefix}-keep-one-healthy", computePlatform="Server",
                minimumHealthyHosts={"type": "HOST_COUNT", "value": 1})
        """,
        solve=_solve_config,
    ),
]

import pytest
from django.utils import timezone

from wxnotify.subscriptions.models import Activity, Template


def make_template(
    account, *, template_id: str, kind: int = Template.Kind.ONE_TIME, title: str = "疫苗到货通知"
) -> Template:
    content = "疫苗名称:{{thing1.DATA}}\n到货时间:{{date2.DATA}}\n"
    from wxnotify.subscriptions.services import parse_keywords

    return Template.objects.create(
        account=account,
        template_id=template_id,
        title=title,
        content=content,
        kind=kind,
        keywords=parse_keywords(content),
    )


def make_activity(account, *templates, title="九价HPV疫苗到货", days=3, **fields) -> Activity:
    activity = Activity.objects.create(
        account=account,
        title=title,
        kind=fields.pop("kind", "vaccine"),
        starts_at=timezone.now() + timezone.timedelta(days=days),
        **fields,
    )
    activity.templates.set(templates)
    return activity


@pytest.fixture
def vaccine(make_account):
    """An account with one one-time and one long-term template and an open vaccine activity using the first."""
    account = make_account(mode="safe")
    one_time = make_template(account, template_id="TPL_VACCINE_ARRIVED")
    long_term = make_template(account, template_id="TPL_VISIT", kind=Template.Kind.LONG_TERM, title="就诊提醒")
    activity = make_activity(account, one_time)
    return account, one_time, long_term, activity

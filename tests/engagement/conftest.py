import pytest

from tests.conftest import link_account


@pytest.fixture
def hospital_on_wechat(simulated_wechat, live_server, settings):
    """A safe-mode hospital whose server URL (the live server) the simulator pushes to."""
    account, sim = simulated_wechat
    link_account(sim, account, callback_url=f"{live_server.url}/wechat/{account.appid}/callback")
    settings.WXNOTIFY_PUBLIC_URL = live_server.url
    yield account, sim
    sim.drain()


def welcome(account, **fields):
    from wxnotify.engagement import services
    from wxnotify.engagement.models import Welcome

    defaults = {
        "reply_kind": "news",
        "title": "欢迎关注瑞康医院",
        "description": "预约挂号、报告查询、疫苗订阅，都在这里",
        "pic_url": "https://img.example-hospital.cn/welcome.jpg",
        "url": "https://www.example-hospital.cn/guide",
        "second_enabled": True,
        "second_title": "九价HPV疫苗到货提醒，一键订阅",
        "second_description": "到货后第一时间通知你",
        "second_url": "https://www.example-hospital.cn/hpv",
    }
    return services.save_welcome(welcome=Welcome(account=account, **(defaults | fields)), user=None)


def inbox(sim, account, openid):
    return sim.get(f"/_sim/accounts/{account.appid}/patients/{openid}")["received"]

"""Follow, unfollow and scan pushes keep the follower table and its history."""

from tests.conftest import as_account, fixture_xml
from wxnotify.followers.models import Follower, FollowerChange

OPENID = "otFpruAK8D-E6EfStSYonYSBZ8_4"


def test_follow_from_a_qr_code_records_the_scene(push, make_account):
    account = make_account()
    push(account, as_account(fixture_xml("follow_qrscene.xml"), account))
    follower = Follower.objects.get(account=account, openid=OPENID)
    assert follower.is_following and follower.qr_scene == "123123"
    assert follower.first_followed_at == follower.followed_at
    assert list(FollowerChange.objects.values_list("kind", "qr_scene")) == [("follow", "123123")]


def test_unfollow_then_refollow_keeps_the_first_follow_time(push, make_account):
    account = make_account()
    push(account, as_account(fixture_xml("follow.xml"), account))
    push(account, as_account(fixture_xml("unfollow.xml"), account))
    follower = Follower.objects.get(account=account, openid=OPENID)
    assert not follower.is_following and follower.unfollowed_at is not None
    first = follower.first_followed_at
    push(account, as_account(fixture_xml("follow.xml"), account, **{"1610969440": "1610979999"}))
    follower.refresh_from_db()
    assert follower.is_following and follower.first_followed_at == first and follower.followed_at > first
    assert FollowerChange.objects.filter(follower=follower).count() == 3


def test_a_late_follow_does_not_undo_a_newer_unfollow(push, make_account):
    account = make_account()
    push(account, as_account(fixture_xml("unfollow.xml"), account))  # CreateTime 1610969500
    push(account, as_account(fixture_xml("follow.xml"), account))  # CreateTime 1610969440: older, arrives later
    follower = Follower.objects.get(account=account, openid=OPENID)
    assert not follower.is_following
    assert FollowerChange.objects.filter(follower=follower).count() == 2  # both kept in the history


def test_scan_by_an_existing_follower_is_history_not_a_new_follow(push, make_account):
    account = make_account()
    push(account, as_account(fixture_xml("follow.xml"), account))
    push(account, as_account(fixture_xml("scan.xml"), account))
    assert list(FollowerChange.objects.order_by("id").values_list("kind", "qr_scene")) == [
        ("follow", ""),
        ("scan", "poster_hpv_2026"),
    ]


def test_followers_of_two_accounts_are_separate(push, make_account):
    a, b = make_account(), make_account()
    push(a, as_account(fixture_xml("follow.xml"), a))
    push(b, as_account(fixture_xml("unfollow.xml"), b))
    assert Follower.objects.get(account=a).is_following
    assert not Follower.objects.get(account=b).is_following

// The patient page: configure WeChat's JS-SDK, react to the subscribe button, show what the patient can
// now receive. Its data comes from the <script type="application/json" id="page-config"> block: the
// Content-Security-Policy runs no inline script.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("page-config").textContent);
  var result = document.getElementById("result");

  function show(data) {
    var lines = data.templates.filter(function (t) { return t.can_receive; }).map(function (t) {
      return t.title + (t.long_term ? "（长期）" : "（可接收 " + t.credits + " 次）");
    });
    if (lines.length) {
      result.textContent = "已订阅：" + lines.join("、") + "。" + config.promise + "我们会通过微信通知你。";
      result.className = "result ok";
    }
    return lines.length > 0;
  }

  // WeChat tells our server about an accept by an event of its own, which can come after the button's
  // answer: keep asking, less often as time goes by, for about a minute, then say how to check later.
  function refresh(tries, wait) {
    fetch(config.statusUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (data) {
      if (show(data) || tries <= 0) {
        if (tries <= 0 && result.dataset.waiting === "yes") {
          result.textContent = "微信还没有把你的订阅告诉我们，请稍后刷新本页查看。";
          result.className = "result warn";
        }
        result.dataset.waiting = "no";
        return;
      }
      setTimeout(function () { refresh(tries - 1, Math.min(wait * 1.5, 5000)); }, wait);
    });
  }

  var sdk = config.jssdk;
  wx.config({appId: sdk.appId, timestamp: sdk.timestamp, nonceStr: sdk.nonceStr, signature: sdk.signature,
             jsApiList: [], openTagList: ["wx-open-subscribe"]});
  wx.ready(function () { document.body.dataset.wxReady = "yes"; refresh(0, 500); });
  wx.error(function () { result.textContent = "微信组件加载失败，请稍后重试。"; result.className = "result warn"; });

  var tag = document.getElementById("subscribe-tag");
  if (tag) {
    tag.addEventListener("success", function (e) {
      var details = {};
      try { details = JSON.parse(e.detail.subscribeDetails || "{}"); } catch (err) { details = {}; }
      var accepted = Object.keys(details).some(function (k) { return String(details[k]).indexOf("accept") >= 0; });
      if (accepted) {
        result.textContent = "订阅成功，正在等待微信确认……";
        result.dataset.waiting = "yes";
        refresh(20, 500);
      }
      else { result.textContent = "你没有订阅，可以随时再点按钮订阅。"; result.className = "result"; }
    });
    tag.addEventListener("error", function (e) {
      result.textContent = "订阅失败（" + (e.detail && e.detail.errCode) + "），请稍后重试。";
      result.className = "result warn";
    });
  }
})();

"""Error codes of the notifications API."""

from backend.errors import error

TemplateNotFound = error("MESSAGE_TEMPLATE_NOT_FOUND", 404, "消息模板不存在")
TemplateInvalid = error("MESSAGE_TEMPLATE_INVALID", 422, "消息模板内容不正确")
TemplateKeyTaken = error("MESSAGE_TEMPLATE_KEY_TAKEN", 409, "消息模板代码已存在")
# A template that breaks a render bound (output or value size, loops, range, time); details name the
# bound and, per string, what broke it.
TemplateTooCostly = error("MESSAGE_TEMPLATE_TOO_COSTLY", 422, "消息模板超出渲染限制")
CallbackForbidden = error("CALLBACK_FORBIDDEN", 403, "回调验证失败")

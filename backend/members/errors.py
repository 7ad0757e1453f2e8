"""Member identity errors (stable codes; zh-CN messages)."""

from backend.errors import error

MemberNotFound = error("MEMBER_NOT_FOUND", 404, "会员不存在")
PhoneBoundElsewhere = error("PHONE_BOUND_ELSEWHERE", 409, "该手机号已绑定其他微信账号，请联系门店处理")
WeChatBoundElsewhere = error("WECHAT_BOUND_ELSEWHERE", 409, "该微信账号已绑定其他会员")
AlreadyRegistered = error("ALREADY_REGISTERED", 409, "已经是会员，无需重复注册")
ReferralCodeInvalid = error("REFERRAL_CODE_INVALID", 422, "推荐码无效")
BirthdayLocked = error("BIRTHDAY_LOCKED", 422, "生日设置后不可自行修改，请联系门店")
MergeNotAllowed = error("MERGE_NOT_ALLOWED", 422, "这两个会员不能合并")
CustomFieldKeyTaken = error("CUSTOM_FIELD_KEY_TAKEN", 409, "自定义字段的键已存在")

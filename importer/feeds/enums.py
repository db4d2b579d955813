"""Closed vocabularies from the Listrak schemas; matched case-insensitively, stored canonical."""

import enum


class OrderStatus(enum.StrEnum):
    NOT_SET = "NotSet"
    MISC = "Misc"
    PRE_ORDER = "PreOrder"
    BACK_ORDER = "BackOrder"
    PENDING = "Pending"
    HOLD = "Hold"
    PROCESSING = "Processing"
    SHIPPED = "Shipped"
    COMPLETED = "Completed"
    RETURNED = "Returned"
    CANCELED = "Canceled"
    UNKNOWN = "Unknown"
    CLOSED = "Closed"


class DiscountType(enum.StrEnum):
    NOT_SET = "NotSet"
    PRICE_OVERRIDE = "PriceOverride"
    PRICE_RULE = "PriceRule"
    PROMOTION = "Promotion"
    SENIOR_CITIZEN = "SeniorCitizen"
    MARKDOWN = "Markdown"
    COUPON = "Coupon"
    QUANTITY_DISCOUNT = "QuantityDiscount"
    REBATE = "Rebate"
    CASH_DISCOUNT = "CashDiscount"
    TRADE_DISCOUNT = "TradeDiscount"
    TRADE_IN_KIND = "TradeInKind"
    PROMPT_PAYMENT_DISCOUNT = "PromptPaymentDiscount"
    GENERAL_DISCOUNT = "GeneralDiscount"
    GIFT_VOUCHER = "GiftVoucher"
    FLEXIBLE_DISCOUNT = "FlexibleDiscount"
    REWARD_PROGRAM = "RewardProgram"
    MANUFACTURER_REWARD = "ManufacturerReward"
    CREDIT_CARD_REWARD = "CreditCardReward"

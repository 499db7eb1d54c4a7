from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models, transaction


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("an email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        """An operator's account (`manage.py createsuperuser`, interactive or not): the
        operator typed the address, so it counts as verified and the first login works."""
        from allauth.account.models import EmailAddress  # allauth's models need this app's

        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        with transaction.atomic(using=self._db):
            user = self.create_user(email, password, **extra)
            EmailAddress.objects.using(self._db).create(
                user=user, email=user.email, verified=True, primary=True
            )
        return user


class User(AbstractUser):
    """A person who signs in with an email address (there is no username)."""

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.email


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    VIEWER = "viewer", "Viewer"


# What each role may do; the selectors and services check these, nothing else does.
CAN_MANAGE_SITES = frozenset({Role.OWNER, Role.ADMIN})
CAN_MANAGE_MEMBERS = frozenset({Role.OWNER, Role.ADMIN})
CAN_MANAGE_OWNERS = frozenset({Role.OWNER})


class Organization(models.Model):
    """A tenant: it owns sites and API keys; people belong to it through memberships."""

    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    # Deleted: no member, key or invitation is left; its row goes once its sites are purged
    # (docs/deletions.md, "Deleting an organization or an account").
    deleted_at = models.DateTimeField(null=True, blank=True)

    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="organizations"
    )

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.organization_id} as {self.role}"


class Invitation(models.Model):
    """An emailed, single-use, expiring invitation to join an organization."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.organization_id}"


class Scope(models.TextChoices):
    STATS_READ = "stats:read", "Read stats"
    EVENTS_WRITE = "events:write", "Send events"
    SITES_READ = "sites:read", "Read sites, goals, funnels and shared links"
    SITES_MANAGE = "sites:manage", "Manage sites, goals, funnels and shared links"
    MEMBERS_READ = "members:read", "Read members, invitations and API keys"
    MEMBERS_MANAGE = "members:manage", "Manage members, invitations and API keys"


# A key with the scope on the left may do what the scope on the right allows: managing
# includes reading (so keys made before the read scopes existed keep working).
SCOPE_INCLUDES = {Scope.SITES_MANAGE: Scope.SITES_READ, Scope.MEMBERS_MANAGE: Scope.MEMBERS_READ}
READ_ONLY_SCOPES = frozenset({Scope.STATS_READ, Scope.SITES_READ, Scope.MEMBERS_READ})


class ApiKey(models.Model):
    """A key for programs, acting within its organization and only within its scopes.

    The key is shown once; only its SHA-256 is stored, found by its public prefix.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    rate_limit_per_minute = models.PositiveIntegerField(default=600)
    # Limited to `sites` (another site answers 404, as another tenant's does); unlimited, the
    # key sees every site of its organization. A flag, not "sites is empty": a limited key
    # whose sites are all deleted must see none, not all.
    site_limited = models.BooleanField(default=False)
    sites = models.ManyToManyField("trail_sites.Site", blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or any(SCOPE_INCLUDES.get(s) == scope for s in self.scopes)

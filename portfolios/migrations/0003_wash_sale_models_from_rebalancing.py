"""The wash-sale models, created in rebalancing, belong to the ledger now: only Django's state
moves (the tables keep their rebalancing_* names); content types follow, so admin history and
permissions stay attached."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = ["substantiallyidenticalgroup", "identicalgroupmember", "washsaleblock", "washsalematch"]


def move_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(app_label="portfolios", model=model).exists():
            ContentType.objects.filter(app_label="rebalancing", model=model).update(
                app_label="portfolios"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("portfolios", "0002_portfolio_reinvest_dividends"),
        ("rebalancing", "0005_wash_sale_models_move_and_scan_leases"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='SubstantiallyIdenticalGroup',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100, unique=True)),
                        ('note', models.CharField(blank=True, max_length=300)),
                    ],
                    options={
                        'db_table': 'rebalancing_substantiallyidenticalgroup',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='IdenticalGroupMember',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('security', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='identical_group_member', to='portfolios.security')),
                        ('group', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='members', to='portfolios.substantiallyidenticalgroup')),
                    ],
                    options={
                        'db_table': 'rebalancing_identicalgroupmember',
                    },
                ),
                migrations.CreateModel(
                    name='WashSaleBlock',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('until', models.DateField()),
                        ('reason', models.CharField(max_length=300)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('household', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='wash_sale_blocks', to=settings.AUTH_USER_MODEL)),
                        ('security', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portfolios.security')),
                        ('source_transaction', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portfolios.transaction')),
                    ],
                    options={
                        'db_table': 'rebalancing_washsaleblock',
                        'ordering': ['-until'],
                        'indexes': [models.Index(fields=['household', 'until'], name='washblock_household_until')],
                        'constraints': [models.UniqueConstraint(fields=('source_transaction', 'security'), name='washblock_one_per_sale_security')],
                    },
                ),
                migrations.CreateModel(
                    name='WashSaleMatch',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('quantity', models.DecimalField(decimal_places=8, max_digits=20)),
                        ('disallowed', models.DecimalField(decimal_places=2, max_digits=18)),
                        ('permanent', models.BooleanField(default=False)),
                        ('holding_days_added', models.PositiveIntegerField(default=0)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('lot_sale', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='wash_matches', to='portfolios.lotsale')),
                        ('replacement_lot', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='wash_matches', to='portfolios.taxlot')),
                    ],
                    options={
                        'db_table': 'rebalancing_washsalematch',
                        'ordering': ['lot_sale', 'id'],
                        'constraints': [models.CheckConstraint(condition=models.Q(('quantity__gt', 0)), name='wash_match_quantity_positive'), models.CheckConstraint(condition=models.Q(('disallowed__gte', 0)), name='wash_match_disallowed_not_negative')],
                    },
                ),
            ],
        ),
        migrations.RunPython(move_content_types, migrations.RunPython.noop),
    ]

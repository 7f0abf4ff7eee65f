"""The wash-sale models move to portfolios (the ledger owns them; their tables keep their
names, so nothing changes in the database), and scan batches get leases for the sweeper."""

from django.db import migrations, models


def failed_runs_are_abandoned(apps, schema_editor):
    apps.get_model("rebalancing", "ScanRun").objects.filter(status="failed").update(
        status="abandoned"
    )


def sweeper_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    old = PeriodicTask.objects.filter(task="rebalancing.tasks.resume_interrupted_executions")
    for entry in old:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute="*", hour="*", day_of_week="*", day_of_month="*", month_of_year="*",
            timezone=entry.crontab.timezone if entry.crontab else "UTC",
        )
        entry.name = "Re-send unfinished work"
        entry.task = "rebalancing.tasks.sweep"
        entry.crontab = crontab
        entry.expire_seconds = 50
        entry.save()


class Migration(migrations.Migration):
    dependencies = [
        ("rebalancing", "0004_lean_indexes"),
        ("django_celery_beat", "0018_improve_crontab_helptext"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='identicalgroupmember',
                    name='group',
                ),
                migrations.RemoveField(
                    model_name='identicalgroupmember',
                    name='security',
                ),
                migrations.RemoveField(
                    model_name='washsaleblock',
                    name='household',
                ),
                migrations.RemoveField(
                    model_name='washsaleblock',
                    name='security',
                ),
                migrations.RemoveField(
                    model_name='washsaleblock',
                    name='source_transaction',
                ),
                migrations.RemoveField(
                    model_name='washsalematch',
                    name='lot_sale',
                ),
                migrations.RemoveField(
                    model_name='washsalematch',
                    name='replacement_lot',
                ),
                migrations.DeleteModel(
                    name='SubstantiallyIdenticalGroup',
                ),
                migrations.DeleteModel(
                    name='IdenticalGroupMember',
                ),
                migrations.DeleteModel(
                    name='WashSaleBlock',
                ),
                migrations.DeleteModel(
                    name='WashSaleMatch',
                ),
    
            ],
        ),
        migrations.RenameField(
            model_name='scanbatch',
            old_name='portfolio_ids',
            new_name='ids',
        ),
        migrations.AddField(
            model_name='scanbatch',
            name='attempts',
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='scanbatch',
            name='dispatched_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='scanbatch',
            name='failed',
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name='scanrun',
            name='status',
            field=models.CharField(choices=[('running', 'Running'), ('finished', 'Completed'), ('abandoned', 'Abandoned')], default='running', max_length=16),
        ),
        migrations.RunPython(failed_runs_are_abandoned, migrations.RunPython.noop),
        migrations.RunPython(sweeper_schedule, migrations.RunPython.noop),
    ]
